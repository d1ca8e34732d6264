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
-- Rebate programs (0.4.0): a rebate policy defined once, as data, versioned.
-- A program is an identity (code, name); what it pays is in its versions,
-- each with a lifecycle draft -> active -> retired and an effective date
-- range.  Active versions of one program never overlap, so every date has at
-- most one governing version, and results record which version produced them.
-- Also: end customers registered by partners (客户报备, counted by the
-- new_customers metric) and the delivery date of orders (a date basis).
-- ---------------------------------------------------------------------------

-- Stacking groups: programs in one group combine by the group's rule.
CREATE TABLE @extschema@.program_group (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id   bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code        text NOT NULL CHECK (btrim(code) <> ''),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    rule        text NOT NULL CHECK (rule IN ('sum', 'max', 'exclusive', 'cascade')),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, id)
);
COMMENT ON TABLE @extschema@.program_group IS
    'Stacking groups of rebate programs: sum (all add), max (the best one pays), exclusive (the first in priority order that pays), cascade (in priority order, each basis reduced by what the earlier ones paid); programs in different groups add';

CREATE TABLE @extschema@.program (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id   bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    code        text NOT NULL CHECK (btrim(code) <> ''),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    description text,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, code),
    UNIQUE (tenant_id, id)
);
COMMENT ON TABLE @extschema@.program IS
    'Rebate programs (返利政策): the identity; what a program pays is in rebate.program_version';

CREATE TABLE @extschema@.program_version (
    id                 bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id          bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    program_id         bigint NOT NULL,
    version            integer NOT NULL CHECK (version > 0),   -- numbered by the guard trigger
    status             text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'retired')),
    effective          daterange NOT NULL CHECK (NOT isempty(effective) AND NOT lower_inf(effective)),
    metric             text NOT NULL CHECK (metric IN ('net_sales', 'gross_margin', 'collected', 'quantity',
                                                       'new_customers', 'growth')),
    kind               text NOT NULL CHECK (kind IN ('tiered', 'overachievement', 'per_unit', 'fixed')),
    schedule           @extschema@.tier_schedule,
    apply_to           text NOT NULL DEFAULT 'total' CHECK (apply_to IN ('total', 'excess')),
    unit_amount        numeric(18,4) CHECK (unit_amount > 0),
    unit_size          integer NOT NULL DEFAULT 1 CHECK (unit_size > 0),
    unit_percent       numeric(9,4) CHECK (unit_percent > 0 AND unit_percent <= 100),
    fixed_amount       numeric(18,2) CHECK (fixed_amount > 0),
    fixed_minimum      numeric(20,4) CHECK (fixed_minimum > 0),
    returns_reduce     boolean NOT NULL DEFAULT true,
    period_unit        text NOT NULL DEFAULT 'quarter' CHECK (period_unit IN ('month', 'quarter', 'year', 'range')),
    date_basis         text NOT NULL DEFAULT 'order' CHECK (date_basis IN ('order', 'delivery', 'payment')),
    grace_days         integer NOT NULL DEFAULT 0 CHECK (grace_days BETWEEN 0 AND 90),
    interim            boolean NOT NULL DEFAULT false,
    region_ids         bigint[] NOT NULL DEFAULT '{}',
    category_ids       bigint[] NOT NULL DEFAULT '{}',
    product_ids        bigint[] NOT NULL DEFAULT '{}',
    grade_ids          bigint[] NOT NULL DEFAULT '{}',
    partner_ids        bigint[] NOT NULL DEFAULT '{}',
    group_id           bigint,
    priority           integer NOT NULL DEFAULT 100,
    override_schedule  @extschema@.tier_schedule,
    cap                numeric(18,2) CHECK (cap >= 0),
    settlement         text NOT NULL DEFAULT 'credit_note' CHECK (settlement IN ('credit_note', 'deduction', 'cash')),
    currency           text NOT NULL DEFAULT 'CNY' CHECK (currency ~ '^[A-Z]{3}$'),
    note               text,
    created_by         name NOT NULL DEFAULT @extschema@.acting_role(),
    activated_at       timestamptz,
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (program_id, version),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, program_id) REFERENCES @extschema@.program (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, group_id) REFERENCES @extschema@.program_group (tenant_id, id),
    CONSTRAINT program_version_no_overlap EXCLUDE USING gist (
        int8range(program_id, program_id, '[]') WITH =, effective WITH &&) WHERE (status = 'active')
);
CREATE INDEX program_version_tenant ON @extschema@.program_version (tenant_id, status);
COMMENT ON TABLE @extschema@.program_version IS
    'What a rebate program pays, version by version: metric, kind, schedule, scope, period, stacking, cap; active versions of a program never overlap';
COMMENT ON COLUMN @extschema@.program_version.status IS
    'draft (editable, computes only in simulations) -> active (governs its effective dates; its content is fixed) -> retired (governs nothing)';
COMMENT ON COLUMN @extschema@.program_version.effective IS
    'The dates this version governs [from, to); for month/quarter/year programs both ends lie on period boundaries';
COMMENT ON COLUMN @extschema@.program_version.metric IS
    'The basis: net_sales (amount, returns and credit notes subtracted unless returns_reduce is off), gross_margin (amount - cost), collected (payments received), quantity, new_customers (end customers registered), growth (net sales against the same period a year earlier)';
COMMENT ON COLUMN @extschema@.program_version.kind IS
    'tiered (schedule on the metric), overachievement (schedule of achievement ratios against rebate.target), per_unit (unit_amount per full unit_size units, or unit_percent of the line amount, per product), fixed (fixed_amount once the metric reaches fixed_minimum)';
COMMENT ON COLUMN @extschema@.program_version.schedule IS
    'tiered: thresholds in metric units; overachievement: thresholds are achievement ratios (1.0 = 100% of target); growth: ratios to the same period a year earlier (1.1 = 10% growth)';
COMMENT ON COLUMN @extschema@.program_version.apply_to IS
    'overachievement and growth: total pays the rate on the whole basis, excess only on what lies above the target (or last year)';
COMMENT ON COLUMN @extschema@.program_version.unit_size IS 'per_unit: unit_amount is paid per full unit_size units (rounded down)';
COMMENT ON COLUMN @extschema@.program_version.returns_reduce IS
    'Whether returns and credit notes reduce the basis (计退) or are ignored (不计退)';
COMMENT ON COLUMN @extschema@.program_version.date_basis IS
    'Which date puts a sale into a period: order (order_date), delivery (delivered_on) or payment (the day the order was paid in full)';
COMMENT ON COLUMN @extschema@.program_version.grace_days IS
    'A document dated d counts in the period containing d - grace_days';
COMMENT ON COLUMN @extschema@.program_version.interim IS
    'Whether the program is also settled monthly on the cumulative basis so far (the final settlement pays the difference)';
COMMENT ON COLUMN @extschema@.program_version.region_ids IS 'Scope: regions (with their subtrees) of the ship-to region; empty means all';
COMMENT ON COLUMN @extschema@.program_version.category_ids IS 'Scope: product categories (with their subtrees); empty means all';
COMMENT ON COLUMN @extschema@.program_version.product_ids IS 'Scope: products; empty means all';
COMMENT ON COLUMN @extschema@.program_version.grade_ids IS 'Scope: partner grades; empty means all';
COMMENT ON COLUMN @extschema@.program_version.partner_ids IS 'Scope: partners; empty means all';
COMMENT ON COLUMN @extschema@.program_version.group_id IS 'The stacking group; NULL: the program stands alone and adds';
COMMENT ON COLUMN @extschema@.program_version.priority IS 'Order within the stacking group (lower first), for exclusive and cascade';
COMMENT ON COLUMN @extschema@.program_version.override_schedule IS
    'Hierarchy: the schedule on which a parent partner (总代) earns an override on the summed basis of its direct sub-partners (二代)';
COMMENT ON COLUMN @extschema@.program_version.cap IS 'The most a partner earns from the program in one period';
COMMENT ON COLUMN @extschema@.program_version.currency IS 'The program pays in this currency and counts only documents in it';

CREATE TRIGGER lifecycle BEFORE UPDATE OF status ON @extschema@.program_version
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_transition('status', 'draft>active', 'active>retired', 'draft>retired');

-- The first day of the period of the given unit that contains the date.
CREATE FUNCTION @extschema@.period_start(unit text, day date) RETURNS date
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL, not SQL: progress calls these once per program, and a SQL
    -- function with a SET clause is planned again on every such call
    RETURN pg_catalog.date_trunc(unit, day::timestamp)::date;
END
$$;
COMMENT ON FUNCTION @extschema@.period_start(text, date) IS 'The first day of the month, quarter or year containing the date';

-- The period of a version containing a date: [start, end) of its month,
-- quarter or year, or the version's whole range for range programs.
CREATE FUNCTION @extschema@.program_period(v @extschema@.program_version, day date) RETURNS daterange
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    first date;
BEGIN
    IF v.period_unit = 'range' THEN
        RETURN v.effective;
    END IF;
    first := pg_catalog.date_trunc(v.period_unit, day::timestamp)::date;
    RETURN pg_catalog.daterange(first, (first + CASE v.period_unit WHEN 'month' THEN '1 month'::interval
                                                                   WHEN 'quarter' THEN '3 months'::interval
                                                                   ELSE '1 year'::interval END)::date);
END
$$;
COMMENT ON FUNCTION @extschema@.program_period(@extschema@.program_version, date) IS
    'The settlement period of the program version that contains the date';

-- Every check a definition must pass: run on insert and update, and on the
-- changed definitions rebate.simulate is given.  Refuses with 22023 (a value
-- not allowed) or 23503 (a scope naming what is not the tenant's).
CREATE FUNCTION @extschema@.check_program_version(v @extschema@.program_version) RETURNS void
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    what    text := pg_catalog.format('version %s of program %s', v.version,
                                      coalesce((SELECT pg_catalog.quote_ident(p.code) FROM @extschema@.program p
                                                 WHERE p.id = v.program_id), v.program_id::text));
    problem text;
    hint    text;
    missing bigint;
    scope   record;
BEGIN
    IF v.kind IN ('tiered', 'overachievement') AND v.schedule IS NULL THEN
        problem := pg_catalog.format('a %s program needs a schedule', v.kind);
        hint := 'Give the schedule, e.g. ''retroactive 0:1%, 100000:2%''.';
    ELSIF v.kind IN ('per_unit', 'fixed') AND v.schedule IS NOT NULL THEN
        problem := pg_catalog.format('a %s program has no schedule', v.kind);
        hint := 'Leave schedule empty: per_unit pays unit_amount or unit_percent, fixed pays fixed_amount.';
    ELSIF v.kind = 'overachievement' AND v.metric NOT IN ('net_sales', 'quantity', 'collected', 'new_customers') THEN
        problem := pg_catalog.format('targets are not kept for the metric %s', v.metric);
        hint := 'Overachievement measures net_sales, quantity, collected or new_customers against rebate.target.';
    ELSIF v.metric = 'growth' AND v.kind <> 'tiered' THEN
        problem := 'the growth metric takes a tiered schedule of ratios to the same period a year earlier';
        hint := 'Use kind tiered with thresholds such as 1.1 for 10% growth.';
    ELSIF v.kind = 'per_unit' AND pg_catalog.num_nonnulls(v.unit_amount, v.unit_percent) <> 1 THEN
        problem := 'a per_unit program pays either unit_amount or unit_percent';
        hint := 'Give unit_amount (per full unit_size units) or unit_percent (of the line amount), not both.';
    ELSIF v.kind = 'per_unit' AND v.metric <> (CASE WHEN v.unit_amount IS NOT NULL THEN 'quantity' ELSE 'net_sales' END) THEN
        problem := pg_catalog.format('a per_unit program paying %s measures %s',
                                     CASE WHEN v.unit_amount IS NOT NULL THEN 'unit_amount' ELSE 'unit_percent' END,
                                     CASE WHEN v.unit_amount IS NOT NULL THEN 'quantity' ELSE 'net_sales' END);
        hint := 'Set the metric to match what the program pays on.';
    ELSIF v.kind <> 'per_unit' AND (v.unit_amount IS NOT NULL OR v.unit_percent IS NOT NULL) THEN
        problem := 'only per_unit programs pay unit_amount or unit_percent';
    ELSIF v.kind = 'fixed' AND (v.fixed_amount IS NULL OR v.fixed_minimum IS NULL) THEN
        problem := 'a fixed program needs fixed_amount and fixed_minimum';
        hint := 'fixed_amount is paid once the metric reaches fixed_minimum in the period.';
    ELSIF v.kind <> 'fixed' AND (v.fixed_amount IS NOT NULL OR v.fixed_minimum IS NOT NULL) THEN
        problem := 'only fixed programs pay fixed_amount';
    ELSIF v.metric IN ('collected', 'new_customers') AND (v.category_ids <> '{}' OR v.product_ids <> '{}') THEN
        problem := pg_catalog.format('the metric %s cannot be scoped by products or categories', v.metric);
        hint := 'Payments and end customers carry no products; scope them by region, grade or partner.';
    ELSIF v.period_unit = 'range' AND upper_inf(v.effective) THEN
        problem := 'a range program needs an end date';
        hint := 'Give effective an upper bound, e.g. ''[2026-06-01,2026-09-01)''.';
    ELSIF v.period_unit <> 'range'
          AND (lower(v.effective) <> @extschema@.period_start(v.period_unit, lower(v.effective))
               OR (NOT upper_inf(v.effective)
                   AND upper(v.effective) <> @extschema@.period_start(v.period_unit, upper(v.effective)))) THEN
        problem := pg_catalog.format('the effective dates %s do not lie on %s boundaries', v.effective, v.period_unit);
        hint := 'A version governs whole periods, so that each period has exactly one version.';
    ELSIF v.interim AND v.period_unit = 'month' THEN
        problem := 'a monthly program has no interim settlements';
    ELSIF v.group_id IS NOT NULL AND EXISTS (
              SELECT 1 FROM @extschema@.program_version o
               WHERE o.group_id = v.group_id AND o.program_id <> v.program_id AND o.status = 'active'
                 AND o.effective && v.effective
                 AND (o.period_unit <> v.period_unit OR (v.period_unit = 'range' AND o.effective <> v.effective))) THEN
        problem := 'the programs of a stacking group must settle over the same periods';
        hint := 'Give it the period of the group''s other programs, or put it in another group.';
    END IF;
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION '% is invalid: %', what, problem
            USING ERRCODE = 'invalid_parameter_value', HINT = coalesce(hint, '');
    END IF;

    -- the scope names only the tenant's own regions, categories, products, grades and partners
    FOR scope IN SELECT * FROM (VALUES ('region', 'region', v.region_ids), ('category', 'product_category', v.category_ids),
                                       ('product', 'product', v.product_ids), ('grade', 'partner_grade', v.grade_ids),
                                       ('partner', 'partner', v.partner_ids)) AS s (noun, tbl, ids)
                  WHERE s.ids <> '{}'
    LOOP
        EXECUTE pg_catalog.format('SELECT x FROM pg_catalog.unnest($1) AS x WHERE NOT EXISTS '
                                  '(SELECT 1 FROM @extschema@.%I t WHERE t.id = x AND t.tenant_id = $2) LIMIT 1', scope.tbl)
            INTO missing USING scope.ids, v.tenant_id;
        IF missing IS NOT NULL THEN
            RAISE EXCEPTION '% names % %, which is not of its tenant', what, scope.noun, missing
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = pg_catalog.format('%s %s does not exist in tenant %s.', scope.noun, missing, v.tenant_id),
                      HINT = 'A program''s scope names its own tenant''s regions, categories, products, grades and partners.';
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.check_program_version(@extschema@.program_version) IS
    'Refuses a program definition that cannot be computed: missing schedule, fields of another kind, scope outside the tenant, dates off period boundaries';

-- Numbering, checks, and the rule that only drafts change: an active or
-- retired version is what statements were computed by.
CREATE FUNCTION @extschema@.guard_program_version() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    content_changed boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.version IS NULL THEN
            -- serialise numbering per program
            PERFORM 1 FROM @extschema@.program p WHERE p.id = NEW.program_id FOR UPDATE;
            NEW.version := coalesce((SELECT max(pv.version) FROM @extschema@.program_version pv
                                      WHERE pv.program_id = NEW.program_id), 0) + 1;
        END IF;
        IF NEW.status <> 'draft' THEN
            RAISE EXCEPTION 'a program version starts as a draft'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Insert it as a draft, then make it active with rebate.activate_program_version.';
        END IF;
    ELSE
        content_changed := (pg_catalog.to_jsonb(NEW) - ARRAY['status', 'effective', 'activated_at', 'updated_at', 'note'])
                           IS DISTINCT FROM
                           (pg_catalog.to_jsonb(OLD) - ARRAY['status', 'effective', 'activated_at', 'updated_at', 'note']);
        IF OLD.status <> 'draft' AND (content_changed
                                       OR (NEW.effective IS DISTINCT FROM OLD.effective
                                           AND lower(NEW.effective) <> lower(OLD.effective))) THEN
            RAISE EXCEPTION 'version % of program % is % and cannot change', OLD.version,
                            (SELECT p.code FROM @extschema@.program p WHERE p.id = OLD.program_id), OLD.status
                USING ERRCODE = 'RB060',
                      DETAIL = 'Results and statements were computed by this version as it is.',
                      HINT = 'Make a new version with rebate.revise_program and activate it.';
        END IF;
    END IF;
    PERFORM @extschema@.check_program_version(NEW);
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.guard_program_version() IS
    'BEFORE trigger on program_version: numbers new versions, checks the definition, and refuses changes to what an active or retired version pays (RB060)';
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON @extschema@.program_version
    FOR EACH ROW EXECUTE FUNCTION @extschema@.guard_program_version();

-- Activation: the draft governs from its start; an active version of the same
-- program that runs on past that start is ended there (superseded), one that
-- starts on or after it is refused.
CREATE FUNCTION @extschema@.activate_program_version(version_id bigint) RETURNS @extschema@.program_version
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v       @extschema@.program_version;
    later   @extschema@.program_version;
    result  @extschema@.program_version;
BEGIN
    SELECT * INTO v FROM @extschema@.program_version pv WHERE pv.id = version_id FOR UPDATE;
    IF v.id IS NULL THEN
        RAISE EXCEPTION 'program version % does not exist or is not visible to you', version_id USING ERRCODE = 'no_data_found';
    END IF;
    IF v.status <> 'draft' THEN
        RAISE EXCEPTION 'version % of program % is % already', v.version,
                        (SELECT p.code FROM @extschema@.program p WHERE p.id = v.program_id), v.status
            USING ERRCODE = 'RB001', HINT = 'Only a draft is activated; make a new version with rebate.revise_program.';
    END IF;
    SELECT * INTO later FROM @extschema@.program_version pv
     WHERE pv.program_id = v.program_id AND pv.status = 'active' AND pv.effective && v.effective
       AND lower(pv.effective) >= lower(v.effective)
     ORDER BY lower(pv.effective) LIMIT 1;
    IF later.id IS NOT NULL THEN
        RAISE EXCEPTION 'version % of program % would overlap version %, active %', v.version,
                        (SELECT p.code FROM @extschema@.program p WHERE p.id = v.program_id), later.version, later.effective
            USING ERRCODE = 'exclusion_violation',
                  DETAIL = pg_catalog.format('Version %s is to govern %s.', v.version, v.effective),
                  HINT = 'End the new version before the later one starts, or retire the later one first.';
    END IF;
    UPDATE @extschema@.program_version pv
       SET effective = pg_catalog.daterange(lower(pv.effective), lower(v.effective))
     WHERE pv.program_id = v.program_id AND pv.status = 'active' AND pv.effective && v.effective;
    UPDATE @extschema@.program_version pv SET status = 'active', activated_at = pg_catalog.now()
     WHERE pv.id = v.id RETURNING pv.* INTO result;
    RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.activate_program_version(bigint) IS
    'Makes a draft version active from its effective start; the active version it supersedes ends that day';

-- A new draft version: the latest version's definition with the changes given
-- (jsonb keys are program_version columns), effective from the date given.
CREATE FUNCTION @extschema@.revise_program(program_id bigint, changes jsonb, effective_from date DEFAULT NULL,
                                           note text DEFAULT NULL)
    RETURNS @extschema@.program_version
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    base    @extschema@.program_version;
    fresh   @extschema@.program_version;
    unknown text;
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
    fresh.id := pg_catalog.nextval(pg_catalog.pg_get_serial_sequence('@extschema@.program_version', 'id')::regclass);
    fresh.version := NULL;
    fresh.created_at := pg_catalog.now();
    fresh.updated_at := pg_catalog.now();
    fresh.status := 'draft';
    fresh.activated_at := NULL;
    fresh.created_by := @extschema@.acting_role();
    fresh.note := note;
    IF effective_from IS NOT NULL THEN
        fresh.effective := pg_catalog.daterange(effective_from, upper(fresh.effective));
    END IF;
    INSERT INTO @extschema@.program_version SELECT (fresh).* RETURNING * INTO fresh;
    RETURN fresh;
END
$$;
COMMENT ON FUNCTION @extschema@.revise_program(bigint, jsonb, date, text) IS
    'A new draft version of the program: its latest definition with the changes (jsonb of program_version columns), effective from the date';

-- Roll back: an earlier version's definition, as a new version, active from the date.
CREATE FUNCTION @extschema@.rollback_program(program_id bigint, to_version integer, effective_from date)
    RETURNS @extschema@.program_version
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old     @extschema@.program_version;
    fresh   @extschema@.program_version;
BEGIN
    SELECT * INTO old FROM @extschema@.program_version pv
     WHERE pv.program_id = rollback_program.program_id AND pv.version = to_version;
    IF old.id IS NULL THEN
        RAISE EXCEPTION 'program % has no version %', program_id, to_version USING ERRCODE = 'no_data_found';
    END IF;
    fresh := @extschema@.revise_program(program_id,
                                        pg_catalog.to_jsonb(old) - ARRAY['id', 'tenant_id', 'program_id', 'version', 'status',
                                                                         'effective', 'created_by', 'activated_at',
                                                                         'created_at', 'updated_at', 'note'],
                                        effective_from, pg_catalog.format('rollback to version %s', to_version));
    fresh.effective := pg_catalog.daterange(effective_from, NULL);
    UPDATE @extschema@.program_version pv SET effective = fresh.effective WHERE pv.id = fresh.id;
    RETURN @extschema@.activate_program_version(fresh.id);
END
$$;
COMMENT ON FUNCTION @extschema@.rollback_program(bigint, integer, date) IS
    'Roll back: re-activates an earlier version''s definition as a new version, governing from the date on';

-- The history: every version, and what it changed against the one before.
CREATE FUNCTION @extschema@.program_history(program_id bigint)
    RETURNS TABLE (version integer, status text, effective daterange, created_by name, created_at timestamptz,
                   activated_at timestamptz, note text, changed jsonb)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH defs AS (
        SELECT pv.*, pg_catalog.to_jsonb(pv) - ARRAY['id', 'version', 'status', 'effective', 'created_by', 'activated_at',
                                                     'created_at', 'updated_at', 'note'] AS def
          FROM @extschema@.program_version pv
         WHERE pv.program_id = program_history.program_id
    ), paired AS (
        SELECT d.*, pg_catalog.lag(d.def) OVER (ORDER BY d.version) AS previous FROM defs d
    )
    SELECT d.version, d.status, d.effective, d.created_by, d.created_at, d.activated_at, d.note,
           (SELECT coalesce(pg_catalog.jsonb_object_agg(e.key, e.value), '{}')
              FROM pg_catalog.jsonb_each(d.def) AS e
             WHERE e.value IS DISTINCT FROM d.previous -> e.key)
      FROM paired d
     ORDER BY d.version
$$;
COMMENT ON FUNCTION @extschema@.program_history(bigint) IS
    'Every version of a program with its lifecycle and, as jsonb, the definition columns it changed against the version before';

-- End customers registered by partners (客户报备): one company, one partner.
CREATE TABLE @extschema@.end_customer (
    id             bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id      bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    partner_id     bigint NOT NULL,
    name           text NOT NULL CHECK (btrim(name) <> ''),
    name_key       text NOT NULL DEFAULT '',
    region_id      bigint,
    registered_on  date NOT NULL DEFAULT CURRENT_DATE,
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, name_key),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id),
    FOREIGN KEY (tenant_id, region_id) REFERENCES @extschema@.region (tenant_id, id)
);
CREATE INDEX end_customer_partner ON @extschema@.end_customer (tenant_id, partner_id, registered_on);
COMMENT ON TABLE @extschema@.end_customer IS
    'End customers registered by partners (客户报备): a company registered once per tenant, so two partners never chase the same client (撞单); counted by the new_customers metric';
COMMENT ON COLUMN @extschema@.end_customer.name_key IS 'rebate.normalize_name(name), maintained: one registration per company and tenant';

CREATE FUNCTION @extschema@.end_customer_name_key() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.name_key := @extschema@.normalize_name(NEW.name);
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.end_customer_name_key() IS 'BEFORE trigger on end_customer: sets name_key';
CREATE TRIGGER name_key BEFORE INSERT OR UPDATE OF name ON @extschema@.end_customer
    FOR EACH ROW EXECUTE FUNCTION @extschema@.end_customer_name_key();

-- The delivery date of an order (date basis delivery): set when the order
-- becomes delivered, unless given; imported history may carry its own.
ALTER TABLE @extschema@.sales_order ADD COLUMN delivered_on date;
COMMENT ON COLUMN @extschema@.sales_order.delivered_on IS
    'The day the goods were delivered: set when the status becomes delivered (unless given)';
UPDATE @extschema@.sales_order o
   SET delivered_on = (SELECT min(h.changed_at)::date FROM @extschema@.order_status_history h
                        WHERE h.order_id = o.id AND h.to_status = 'delivered')
 WHERE o.status IN ('delivered', 'closed');

CREATE FUNCTION @extschema@.stamp_delivery() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.status IN ('delivered', 'closed') AND NEW.delivered_on IS NULL THEN
        NEW.delivered_on := CURRENT_DATE;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.stamp_delivery() IS
    'BEFORE trigger on sales_order: sets delivered_on when the order becomes delivered or closed without one';
CREATE TRIGGER stamp_delivery BEFORE INSERT OR UPDATE OF status ON @extschema@.sales_order
    FOR EACH ROW EXECUTE FUNCTION @extschema@.stamp_delivery();

-- Row-level security, standard triggers, grants.
SELECT @extschema@.apply_standard_triggers('@extschema@.program_group');
SELECT @extschema@.apply_standard_triggers('@extschema@.program');
SELECT @extschema@.apply_standard_triggers('@extschema@.program_version');
SELECT @extschema@.apply_standard_triggers('@extschema@.end_customer');
SELECT @extschema@.apply_tenant_rls('@extschema@.program_group', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.program', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.program_version', 'tenant_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.end_customer', 'tenant_id', 'partner_id');

GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.program_group, @extschema@.program, @extschema@.program_version,
    @extschema@.end_customer TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.program_group, @extschema@.program, @extschema@.program_version TO rebate_partner;
GRANT SELECT, INSERT ON @extschema@.end_customer TO rebate_partner;
REVOKE ALL ON FUNCTION @extschema@.activate_program_version(bigint), @extschema@.revise_program(bigint, jsonb, date, text),
    @extschema@.rollback_program(bigint, integer, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.activate_program_version(bigint), @extschema@.revise_program(bigint, jsonb, date, text),
    @extschema@.rollback_program(bigint, integer, date) TO rebate_admin, rebate_manager;
-- partner users register their own end customers
CREATE POLICY partner_registers_customer ON @extschema@.end_customer FOR INSERT
    WITH CHECK (tenant_id = (SELECT @extschema@.current_tenant_id())
                AND partner_id = (SELECT @extschema@.current_partner_id()));
-- ---------------------------------------------------------------------------
-- Computing programs: the basis of each partner from the documents already
-- in the tables, rated by the C calculation core (tiered_rebate,
-- overachievement_rebate, tier_index, next_tier_gap).  Nothing is kept
-- incrementally: every answer is a recomputation from the documents, so a
-- committed order, return or payment shows in the next query, concurrent
-- writers share no row, and nothing can drift.
-- ---------------------------------------------------------------------------

-- Orders count for rebates once approved (and while shipped, delivered, closed).
-- No SET clause, so that it is inlined into the queries that call it.
CREATE FUNCTION @extschema@.order_counts(status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT status OPERATOR(pg_catalog.=) ANY ('{approved,shipped,delivered,closed}'::text[])
$$;
COMMENT ON FUNCTION @extschema@.order_counts(text) IS
    'Whether an order (or return, credit note) in this status counts for rebates: approved, shipped, delivered, closed';

-- The day an order was paid in full: the received_on of the payment whose
-- allocation brought the allocations up to the order's amount.
CREATE FUNCTION @extschema@.order_paid_on(order_id bigint) RETURNS date
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT min(c.received_on)
      FROM (SELECT p.received_on,
                   sum(a.amount) OVER (ORDER BY p.received_on, p.id ROWS UNBOUNDED PRECEDING) AS covered
              FROM @extschema@.payment_allocation a
              JOIN @extschema@.payment p ON p.id = a.payment_id AND p.tenant_id = a.tenant_id
             WHERE a.order_id = order_paid_on.order_id) c
     WHERE c.covered >= (SELECT sum(l.amount) FROM @extschema@.order_line l WHERE l.order_id = order_paid_on.order_id)
$$;
COMMENT ON FUNCTION @extschema@.order_paid_on(bigint) IS
    'The day the payments allocated to the order first covered its amount; NULL while it is not paid in full';

-- The order lines (and returns, credit notes) a version counts over
-- [from_day, to_day) of document dates (less grace days), signed: returns
-- take goods back, returns and credit notes take amounts back.  A return or
-- credit note that refers to an order counts where that order counted, so it
-- is judged with the period (and version) of the original sale.  Costs are
-- not read here: partner users may call this, and only gross-margin programs
-- need them.  program_scope_lines has no SET clause so that it is inlined
-- into program_lines' two queries, each planned once per session: for all
-- partners (a period's close) and for some (progress, one partner).
CREATE FUNCTION @extschema@.program_scope_lines(v @extschema@.program_version, from_day date, to_day date)
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
       AND o.order_date >= CASE WHEN v.date_basis = 'order' THEN from_day + v.grace_days ELSE '-infinity'::date END
       AND (o.kind <> 'order' OR o.order_date < CASE WHEN v.date_basis = 'order' THEN to_day + v.grace_days
                                                     ELSE 'infinity'::date END)
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
COMMENT ON FUNCTION @extschema@.program_scope_lines(@extschema@.program_version, date, date) IS
    'Internal, inlined into rebate.program_lines: the lines a program version counts over document dates [from_day, to_day)';

CREATE FUNCTION @extschema@.program_lines(v @extschema@.program_version, from_day date, to_day date,
                                          partners bigint[] DEFAULT NULL)
    RETURNS TABLE (partner_id bigint, line_id bigint, product_id bigint, quantity numeric, amount numeric)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    -- both queries plan well for any values: plan them once per session
    SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    IF partners IS NULL THEN
        RETURN QUERY SELECT s.* FROM @extschema@.program_scope_lines(v, from_day, to_day) s;
    ELSE
        RETURN QUERY SELECT s.* FROM @extschema@.program_scope_lines(v, from_day, to_day) s
                      WHERE s.partner_id = ANY (partners);
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.program_lines(@extschema@.program_version, date, date, bigint[]) IS
    'The order, return and credit-note lines a program version counts over document dates [from_day, to_day) (less grace days), quantity and amount signed; partners NULL means all';

-- The same lines per partner and product, with the cost of their goods: the
-- only place the basis reads order_line.unit_cost, and only for gross-margin
-- programs, so that everything else works for roles that may not see costs.
CREATE FUNCTION @extschema@.program_line_costs(v @extschema@.program_version, from_day date, to_day date,
                                               partners bigint[] DEFAULT NULL)
    RETURNS TABLE (partner_id bigint, product_id bigint, quantity numeric, amount numeric, documents bigint,
                   cost numeric)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    IF partners IS NULL THEN
        RETURN QUERY
            SELECT s.partner_id, s.product_id, sum(s.quantity), sum(s.amount), count(*),
                   sum(s.quantity * coalesce(l.unit_cost, 0))
              FROM @extschema@.program_scope_lines(v, from_day, to_day) s
              JOIN @extschema@.order_line l ON l.id = s.line_id
             GROUP BY s.partner_id, s.product_id;
    ELSE
        RETURN QUERY
            SELECT s.partner_id, s.product_id, sum(s.quantity), sum(s.amount), count(*),
                   sum(s.quantity * coalesce(l.unit_cost, 0))
              FROM @extschema@.program_scope_lines(v, from_day, to_day) s
              JOIN @extschema@.order_line l ON l.id = s.line_id
             WHERE s.partner_id = ANY (partners)
             GROUP BY s.partner_id, s.product_id;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.program_line_costs(@extschema@.program_version, date, date, bigint[]) IS
    'The cost of the goods a program version counts, per partner and product (gross-margin programs; needs the privilege to read order_line.unit_cost)';

-- The basis of every partner in scope over [from_day, to_day) of document
-- dates (less grace days).  partners NULL means all of the tenant's.
CREATE FUNCTION @extschema@.program_basis(v @extschema@.program_version, from_day date, to_day date,
                                          partners bigint[] DEFAULT NULL)
    RETURNS TABLE (partner_id bigint, parent_id bigint, basis numeric, unit_earned numeric, documents bigint)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        WITH scope AS (
            -- all the tenant's partners, or those asked for: two branches, so that a plan made once
            -- for any values reads a few partners by their key
            SELECT pa.id, pa.parent_id, pa.state, pa.home_region_id
              FROM @extschema@.partner pa
             WHERE partners IS NULL AND pa.tenant_id = v.tenant_id
               AND (v.partner_ids = '{}' OR pa.id = ANY (v.partner_ids))
               AND (v.grade_ids = '{}' OR pa.grade_id = ANY (v.grade_ids))
            UNION ALL
            SELECT pa.id, pa.parent_id, pa.state, pa.home_region_id
              FROM pg_catalog.unnest(partners) AS asked (id)
              JOIN @extschema@.partner pa ON pa.id = asked.id
             WHERE pa.tenant_id = v.tenant_id
               AND (v.partner_ids = '{}' OR pa.id = ANY (v.partner_ids))
               AND (v.grade_ids = '{}' OR pa.grade_id = ANY (v.grade_ids))
        ), per_product AS (
            -- each runs only for the programs that need it: costs only for gross margin
            SELECT pl.partner_id, pl.product_id, sum(pl.quantity) AS quantity, sum(pl.amount) AS amount,
                   count(*) AS documents, 0 AS cost
              FROM @extschema@.program_lines(v, from_day, to_day, partners) pl
             WHERE v.metric <> 'gross_margin'
             GROUP BY pl.partner_id, pl.product_id
            UNION ALL
            SELECT c.partner_id, c.product_id, c.quantity, c.amount, c.documents, c.cost
              FROM @extschema@.program_line_costs(v, from_day, to_day, partners) c
             WHERE v.metric = 'gross_margin'
        ), sales_basis AS (
            SELECT p.partner_id,
                   sum(CASE v.metric WHEN 'gross_margin' THEN p.amount - p.cost
                                     WHEN 'quantity' THEN p.quantity
                                     ELSE p.amount END) AS basis,
                   -- per full unit_size units, rounded toward zero so that a return takes back what its sale paid
                   sum(CASE WHEN v.unit_amount IS NOT NULL THEN trunc(p.quantity / v.unit_size) * v.unit_amount
                            WHEN v.unit_percent IS NOT NULL THEN p.amount * v.unit_percent / 100 END) AS unit_earned,
                   sum(p.documents)::bigint AS documents
              FROM per_product p
             GROUP BY p.partner_id
        ), collected AS (
            SELECT pay.partner_id, sum(pay.amount) AS basis, NULL::numeric AS unit_earned, count(*) AS documents
              FROM @extschema@.payment pay
              JOIN scope s ON s.id = pay.partner_id
              LEFT JOIN @extschema@.region r ON r.id = s.home_region_id
             WHERE v.metric = 'collected'
               AND pay.tenant_id = v.tenant_id AND pay.currency = v.currency
               AND (v.region_ids = '{}' OR r.path && v.region_ids)
               AND pay.received_on - v.grace_days >= from_day AND pay.received_on - v.grace_days < to_day
             GROUP BY pay.partner_id
        ), customers AS (
            SELECT c.partner_id, count(*)::numeric AS basis, NULL::numeric AS unit_earned, count(*) AS documents
              FROM @extschema@.end_customer c
              JOIN scope s ON s.id = c.partner_id
              LEFT JOIN @extschema@.region r ON r.id = coalesce(c.region_id, s.home_region_id)
             WHERE v.metric = 'new_customers'
               AND c.tenant_id = v.tenant_id
               AND (v.region_ids = '{}' OR r.path && v.region_ids)
               AND c.registered_on - v.grace_days >= from_day AND c.registered_on - v.grace_days < to_day
             GROUP BY c.partner_id
        ), found AS (
            SELECT * FROM sales_basis UNION ALL SELECT * FROM collected UNION ALL SELECT * FROM customers
        )
        SELECT s.id, s.parent_id, pg_catalog.trim_scale(coalesce(f.basis, 0)), pg_catalog.trim_scale(f.unit_earned),
               coalesce(f.documents, 0)
          FROM scope s
          LEFT JOIN found f ON f.partner_id = s.id
         WHERE f.partner_id IS NOT NULL OR s.state = 'active';
END
$$;
COMMENT ON FUNCTION @extschema@.program_basis(@extschema@.program_version, date, date, bigint[]) IS
    'The basis of each partner in the version''s scope over document dates [from_day, to_day) (less grace days): active partners, and any partner with documents';

-- The multiplier of a schedule's tier (NULL below the first tier and for lump sums).
-- (PL/pgSQL like the small helpers below: called once per program by
-- progress, where a SQL function with a SET clause would be planned each time)
CREATE FUNCTION @extschema@.tier_rate(schedule @extschema@.tier_schedule, tier integer) RETURNS numeric
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN CASE @extschema@.schedule_kind(schedule)
                WHEN 'percent' THEN pg_catalog.trim_scale((@extschema@.schedule_values(schedule))[tier] / 100)
                WHEN 'per_unit' THEN (@extschema@.schedule_values(schedule))[tier]
           END;
END
$$;
COMMENT ON FUNCTION @extschema@.tier_rate(@extschema@.tier_schedule, integer) IS
    'The multiplier of tier n of a schedule (a percentage / 100, or the amount per unit); NULL for lump sums or outside the tiers';

-- Rating one basis under a version: the tier, rate, what it earns, how far the
-- next tier is and what it would pay, and the reason where nothing can be paid.
-- comparison is the target (overachievement) or last year's basis (growth).
CREATE FUNCTION @extschema@.rate_basis(v @extschema@.program_version, basis numeric, comparison numeric,
                                       unit_earned numeric,
                                       OUT tier integer, OUT rate numeric, OUT earned numeric,
                                       OUT next_tier_gap numeric, OUT next_tier_rebate numeric,
                                       OUT status text, OUT explanation text)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    against_target boolean := v.kind = 'overachievement' OR v.metric = 'growth';
    tiers   record;
    above   numeric;
BEGIN
    status := 'ok';
    IF against_target AND (comparison IS NULL OR comparison <= 0) THEN
        status := CASE WHEN v.metric = 'growth' THEN 'no_comparison_base' ELSE 'no_target' END;
        earned := 0;
        explanation := CASE WHEN v.metric = 'growth'
                            THEN pg_catalog.format('no net sales in the same period a year earlier to grow from (%s): nothing is paid', coalesce(comparison, 0))
                            ELSE 'no target is set for the partner in this period: nothing is paid' END;
        RETURN;
    END IF;
    CASE
    WHEN v.kind = 'per_unit' THEN
        earned := coalesce(unit_earned, 0);
        rate := pg_catalog.trim_scale(coalesce(v.unit_amount, v.unit_percent / 100));
        explanation := CASE WHEN v.unit_amount IS NOT NULL
                            THEN pg_catalog.format('%s per full %s units of each product, %s units in all: %s',
                                                   v.unit_amount, v.unit_size, basis, earned)
                            ELSE pg_catalog.format('%s%% of %s net sales: %s', v.unit_percent, basis, earned) END;
    WHEN v.kind = 'fixed' THEN
        earned := CASE WHEN basis >= v.fixed_minimum THEN v.fixed_amount ELSE 0 END;
        tier := CASE WHEN basis >= v.fixed_minimum THEN 1 ELSE 0 END;
        IF basis < v.fixed_minimum THEN
            next_tier_gap := v.fixed_minimum - basis;
            next_tier_rebate := v.fixed_amount;
        END IF;
        explanation := pg_catalog.format('%s %s %s the minimum %s: %s', v.metric, basis,
                                         CASE WHEN basis >= v.fixed_minimum THEN 'reaches' ELSE 'is below' END,
                                         v.fixed_minimum, earned);
    WHEN against_target THEN
        -- tiers start at threshold x comparison, compared exactly (no division)
        SELECT count(*) FILTER (WHERE t.threshold * comparison <= basis)::integer AS reached,
               min(t.threshold * comparison) FILTER (WHERE t.threshold * comparison > basis) AS next_start
          INTO tiers FROM pg_catalog.unnest(@extschema@.schedule_thresholds(v.schedule)) AS t (threshold);
        tier := tiers.reached;
        earned := @extschema@.overachievement_rebate(basis, comparison, v.schedule, v.apply_to);
        IF tiers.next_start IS NOT NULL THEN
            next_tier_gap := tiers.next_start - basis;
            next_tier_rebate := @extschema@.overachievement_rebate(tiers.next_start, comparison, v.schedule, v.apply_to);
        END IF;
        rate := @extschema@.tier_rate(v.schedule, tier);
        above := basis - comparison;
        explanation := pg_catalog.format('%s %s against %s %s (%s%%): tier %s%s, %s',
                                         v.metric, basis, CASE WHEN v.metric = 'growth' THEN 'last year''s' ELSE 'target' END,
                                         comparison, pg_catalog.round(basis * 100 / comparison, 2), tier,
                                         CASE WHEN rate IS NULL THEN '' ELSE pg_catalog.format(' at %s on the %s', rate,
                                              CASE WHEN v.apply_to = 'excess' THEN pg_catalog.format('excess %s', above)
                                                   ELSE 'whole basis' END) END,
                                         earned);
    ELSE
        tier := @extschema@.tier_index(basis, v.schedule);
        earned := @extschema@.tiered_rebate(basis, v.schedule);
        next_tier_gap := @extschema@.next_tier_gap(basis, v.schedule);
        IF next_tier_gap IS NOT NULL THEN
            next_tier_rebate := @extschema@.tiered_rebate(basis + next_tier_gap, v.schedule);
        END IF;
        rate := @extschema@.tier_rate(v.schedule, tier);
        explanation := pg_catalog.format('%s %s: tier %s of %s (%s, %s)%s: %s', v.metric, basis, tier,
                                         @extschema@.schedule_thresholds(v.schedule)::text,
                                         @extschema@.schedule_mode(v.schedule), @extschema@.schedule_kind(v.schedule),
                                         CASE WHEN rate IS NULL THEN '' ELSE pg_catalog.format(' at %s', rate) END, earned);
    END CASE;
END
$$;
COMMENT ON FUNCTION @extschema@.rate_basis(@extschema@.program_version, numeric, numeric, numeric) IS
    'Rates one basis under a program version: tier, rate, exact rebate (before the cap), gap to the next tier and what it would pay, status and the formula in words';

-- Targets are looked up per partner and metric by progress.
CREATE INDEX target_partner_metric ON @extschema@.target (tenant_id, partner_id, metric);

-- The target metric that measures a program metric.
CREATE FUNCTION @extschema@.target_metric(program_metric text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN CASE program_metric WHEN 'net_sales' THEN 'sales_amount' WHEN 'collected' THEN 'collected_amount'
                               ELSE program_metric END;
END
$$;
COMMENT ON FUNCTION @extschema@.target_metric(text) IS
    'The rebate.target metric a program metric is measured against: net_sales -> sales_amount, collected -> collected_amount';

-- The targets of the partners for a program period: for each partner, the
-- targets of the metric whose periods lie inside it, summed (monthly targets
-- make a quarter's).  partners NULL means all.
CREATE FUNCTION @extschema@.program_targets(v @extschema@.program_version, period daterange,
                                            partners bigint[] DEFAULT NULL)
    RETURNS TABLE (partner_id bigint, target numeric)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    -- two queries, so that a plan made once reads one partner's targets by its index
    IF partners IS NULL THEN
        RETURN QUERY
            SELECT t.partner_id, sum(t.value)
              FROM @extschema@.target t
             WHERE t.tenant_id = v.tenant_id AND t.period <@ program_targets.period
               AND t.metric = @extschema@.target_metric(v.metric)
             GROUP BY t.partner_id;
    ELSE
        RETURN QUERY
            SELECT t.partner_id, sum(t.value)
              FROM @extschema@.target t
             WHERE t.tenant_id = v.tenant_id AND t.partner_id = ANY (partners)
               AND t.metric = @extschema@.target_metric(v.metric)
               -- "inside the period" by its bounds (both are bounded), not <@, which would also
               -- send the plan to the overlap index and through every target of the period
               AND lower(t.period) >= lower(program_targets.period) AND upper(t.period) <= upper(program_targets.period)
             GROUP BY t.partner_id;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.program_targets(@extschema@.program_version, daterange, bigint[]) IS
    'Each partner''s target for the program''s metric over a period: the sum of its targets lying inside the period';

-- Every partner's result under a version for a period, counting documents up
-- to as_of (the whole period when NULL); one partner, or all.  Rows with
-- component 'override' are what parent partners earn on their direct
-- sub-partners' basis.  Amounts are exact; rounding is the statement's.
CREATE TYPE @extschema@.program_result AS (
    program_id       bigint,
    version_id       bigint,
    version          integer,
    partner_id       bigint,
    component        text,
    period           daterange,
    counted_until    date,
    metric           text,
    kind             text,
    basis            numeric,
    comparison       numeric,
    tier             integer,
    rate             numeric,
    earned           numeric,
    cap_applied      boolean,
    rebate           numeric,
    next_tier_gap    numeric,
    next_tier_rebate numeric,
    documents        bigint,
    status           text,
    explanation      text,
    group_id         bigint,
    stacking         text,
    paid             numeric
);
COMMENT ON TYPE @extschema@.program_result IS
    'One partner''s result under a program version: component own or override; comparison is the target (overachievement) or last year''s basis (growth); earned before and rebate after the cap, paid after stacking, all exact; status ok, no_target, no_comparison_base or not_shown';

CREATE FUNCTION @extschema@.program_results(v @extschema@.program_version, period daterange,
                                            as_of date DEFAULT NULL, partner_id bigint DEFAULT NULL)
    RETURNS SETOF @extschema@.program_result
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    -- a parent's override is rated like a tiered program on its override schedule
    overriding @extschema@.program_version := v;
    -- one partner's override is looked for only where it has sub-partners
    has_children boolean := program_results.partner_id IS NOT NULL AND v.override_schedule IS NOT NULL
                            AND EXISTS (SELECT 1 FROM @extschema@.partner c
                                         WHERE c.tenant_id = v.tenant_id AND c.parent_id = program_results.partner_id);
BEGIN
    overriding.kind := 'tiered';
    overriding.schedule := v.override_schedule;
    overriding.unit_amount := NULL;
    overriding.unit_percent := NULL;
    IF v.metric = 'growth' THEN
        overriding.metric := 'net_sales';    -- the override is on the sub-partners' sales, not on their growth
    END IF;
    RETURN QUERY
        WITH win AS (
            SELECT lower(period) AS from_day,
                   CASE WHEN as_of IS NULL OR as_of + 1 >= upper(period) THEN upper(period) ELSE as_of + 1 END AS to_day
        ), asked AS (
            SELECT CASE WHEN program_results.partner_id IS NULL THEN NULL
                        ELSE ARRAY[program_results.partner_id] END AS partners
        ), comparisons AS (
            -- each runs only for the programs that need it
            SELECT t.partner_id, t.target AS comparison
              FROM asked a, @extschema@.program_targets(v, period, a.partners) t
             WHERE v.kind = 'overachievement'
            UNION ALL
            SELECT ly.partner_id, ly.basis
              FROM win w, asked a,
                   @extschema@.program_basis(v, (w.from_day - '1 year'::interval)::date,
                                             (w.to_day - '1 year'::interval)::date, a.partners) ly
             WHERE v.metric = 'growth'
        ), own AS (
            SELECT b.*, 'own'::text AS component, c.comparison
              FROM win w, asked a, @extschema@.program_basis(v, w.from_day, w.to_day, a.partners) b
              LEFT JOIN comparisons c ON c.partner_id = b.partner_id
        ), children AS (
            SELECT b.*
              FROM win w, @extschema@.program_basis(v, w.from_day, w.to_day,
                              (SELECT coalesce(pg_catalog.array_agg(c.id), '{}') FROM @extschema@.partner c
                                WHERE c.tenant_id = v.tenant_id AND c.parent_id = program_results.partner_id)) b
             WHERE v.override_schedule IS NOT NULL AND program_results.partner_id IS NOT NULL
               AND has_children
            UNION ALL
            SELECT o.partner_id, o.parent_id, o.basis, o.unit_earned, o.documents FROM own o
             WHERE v.override_schedule IS NOT NULL AND program_results.partner_id IS NULL
        ), override AS (
            SELECT c.parent_id AS partner_id, sum(c.basis) AS basis, sum(c.documents)::bigint AS documents
              FROM children c
             WHERE c.parent_id IS NOT NULL
               AND (program_results.partner_id IS NULL OR c.parent_id = program_results.partner_id)
             GROUP BY c.parent_id
        ), rated AS (
            SELECT o.partner_id, o.component, o.basis, o.comparison, o.documents, r.*
              FROM own o, LATERAL @extschema@.rate_basis(v, o.basis, o.comparison, o.unit_earned) r
            UNION ALL
            SELECT ov.partner_id, 'override', ov.basis, NULL, ov.documents, r.tier, r.rate, r.earned,
                   r.next_tier_gap, r.next_tier_rebate, r.status,
                   'override on the sum of direct sub-partners: ' || r.explanation
              FROM override ov, LATERAL @extschema@.rate_basis(overriding, ov.basis, NULL, NULL) r
        )
        SELECT v.program_id, v.id, v.version, r.partner_id, r.component, period, (w.to_day - 1), v.metric, v.kind,
               pg_catalog.trim_scale(r.basis), pg_catalog.trim_scale(r.comparison), r.tier, r.rate,
               pg_catalog.trim_scale(r.earned),
               coalesce(r.earned > v.cap, false),
               pg_catalog.trim_scale(CASE WHEN r.earned > v.cap THEN v.cap ELSE r.earned END),
               pg_catalog.trim_scale(r.next_tier_gap), pg_catalog.trim_scale(r.next_tier_rebate), r.documents, r.status,
               r.explanation || CASE WHEN r.earned > v.cap THEN pg_catalog.format('; capped at %s', v.cap) ELSE '' END,
               v.group_id, NULL::text,
               pg_catalog.trim_scale(CASE WHEN r.earned > v.cap THEN v.cap ELSE r.earned END)
          FROM rated r, win w
         ORDER BY r.partner_id, r.component DESC;
END
$$;
COMMENT ON FUNCTION @extschema@.program_results(@extschema@.program_version, daterange, date, bigint) IS
    'Every partner''s result under a program version for a period (documents up to as_of): basis, comparison, tier, rate, exact rebate before and after the cap, next tier, documents counted, status, explanation';

-- The version of a program that governs a date (active, effective that day).
CREATE FUNCTION @extschema@.governing_version(program_id bigint, day date) RETURNS @extschema@.program_version
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pv.* FROM @extschema@.program_version pv
     WHERE pv.program_id = governing_version.program_id AND pv.status = 'active' AND pv.effective @> day
$$;
COMMENT ON FUNCTION @extschema@.governing_version(bigint, date) IS 'The active version of the program effective on the date, if any';

-- Stacking: programs in one group, for one partner and one period, combine
-- by the group's rule; the result is each row's paid amount and, in words,
-- why.  Override rows and programs outside groups are paid what they earn.
-- A row whose rebate is unknown (NULL: not shown to this reader) makes the
-- paid amounts of max, exclusive and cascade groups unknown too.
CREATE FUNCTION @extschema@.apply_stacking(results @extschema@.program_result[])
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
    i           integer;
BEGIN
    RETURN QUERY SELECT (u).* FROM pg_catalog.unnest(results) AS u WHERE u.group_id IS NULL OR u.component <> 'own';
    FOR g IN
        SELECT u.partner_id, u.period, pg.rule, pg.code,
               pg_catalog.array_agg(u ORDER BY pv.priority, u.program_id) AS members
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
                -- cascade: money bases are reduced by what earlier programs of the group paid, then re-rated
                IF paid_before <> 0 AND r.metric IN ('net_sales', 'gross_margin', 'collected', 'growth')
                   AND r.status = 'ok' THEN
                    SELECT * INTO v FROM @extschema@.program_version pv WHERE pv.id = r.version_id;
                    reduced := r.basis - paid_before;
                    SELECT * INTO rerated
                      FROM @extschema@.rate_basis(v, reduced, r.comparison, reduced * v.unit_percent / 100);
                    r.tier := rerated.tier;
                    r.rate := rerated.rate;
                    r.earned := pg_catalog.trim_scale(rerated.earned);
                    r.cap_applied := coalesce(rerated.earned > v.cap, false);
                    r.rebate := pg_catalog.trim_scale(CASE WHEN rerated.earned > v.cap THEN v.cap ELSE rerated.earned END);
                    r.next_tier_gap := pg_catalog.trim_scale(rerated.next_tier_gap);
                    r.next_tier_rebate := pg_catalog.trim_scale(rerated.next_tier_rebate);
                    r.explanation := rerated.explanation
                                     || CASE WHEN r.cap_applied THEN pg_catalog.format('; capped at %s', v.cap) ELSE '' END;
                    r.stacking := pg_catalog.format('cascade in group %s: rated on %s, the basis %s less %s paid by earlier programs',
                                                    g.code, pg_catalog.trim_scale(reduced), r.basis,
                                                    pg_catalog.trim_scale(paid_before));
                ELSE
                    r.stacking := pg_catalog.format('cascade in group %s: %s', g.code,
                                                    CASE WHEN i = 1 THEN 'first in priority order, on its whole basis'
                                                         ELSE 'basis not reduced (not an amount)' END);
                END IF;
                r.paid := r.rebate;
                paid_before := paid_before + r.paid;
            END IF;
            RETURN NEXT r;
        END LOOP;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.apply_stacking(@extschema@.program_result[]) IS
    'Combines results of programs in one stacking group per partner and period by the group''s rule (sum, max, exclusive, cascade): sets paid and stacking (the outcome in words)';

-- Whether the caller may see what gross-margin programs are based on.
CREATE FUNCTION @extschema@.sees_costs() RETURNS boolean
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN pg_catalog.has_column_privilege('@extschema@.order_line'::regclass, 'unit_cost', 'SELECT');
END
$$;
COMMENT ON FUNCTION @extschema@.sees_costs() IS
    'Whether the current role may read order_line.unit_cost, which the basis of gross-margin programs needs';

-- Real-time progress of one partner in every program that governs as_of,
-- stacked as it will be settled.  A reader who may not see costs (a partner
-- user) gets gross-margin programs as status not_shown, without numbers.
CREATE FUNCTION @extschema@.progress(partner_id bigint, as_of date DEFAULT CURRENT_DATE)
    RETURNS TABLE (program_id bigint, program_code text, program_name text, version integer, component text,
                   period daterange, counted_until date, metric text, kind text, basis numeric, target numeric,
                   achievement numeric, tier integer, rate numeric, earned numeric, cap_applied boolean, rebate numeric,
                   next_tier_gap numeric, next_tier_rebate numeric, documents bigint, status text, explanation text,
                   stacking text, paid numeric)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v       @extschema@.program_version;
    results @extschema@.program_result[] := '{}';
    costs   boolean := @extschema@.sees_costs();
BEGIN
    FOR v IN SELECT pv.* FROM @extschema@.partner pa
               JOIN @extschema@.program_version pv ON pv.tenant_id = pa.tenant_id
              WHERE pa.id = progress.partner_id AND pv.status = 'active' AND pv.effective @> as_of
    LOOP
        IF v.metric = 'gross_margin' AND NOT costs THEN
            results := results || ROW(v.program_id, v.id, v.version, progress.partner_id, 'own',
                                      @extschema@.program_period(v, as_of), as_of, v.metric, v.kind,
                                      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'not_shown',
                                      'the basis is the gross margin, which needs costs you may not see; the rebate is shown on the statement',
                                      v.group_id, NULL, NULL)::@extschema@.program_result;
        ELSE
            results := results || ARRAY(SELECT r FROM @extschema@.program_results(v, @extschema@.program_period(v, as_of),
                                                                                   as_of, progress.partner_id) r);
        END IF;
    END LOOP;
    RETURN QUERY
    SELECT p.id, p.code, p.name, r.version, r.component, r.period, r.counted_until, r.metric, r.kind, r.basis,
           r.comparison,
           CASE WHEN r.comparison > 0 THEN pg_catalog.round(r.basis / r.comparison, 4) END,
           r.tier, r.rate, r.earned, r.cap_applied, r.rebate, r.next_tier_gap, r.next_tier_rebate, r.documents,
           r.status, r.explanation, r.stacking, r.paid
      FROM @extschema@.apply_stacking(results) r
      JOIN @extschema@.program p ON p.id = r.program_id
     ORDER BY p.code, r.component DESC;
END
$$;
COMMENT ON FUNCTION @extschema@.progress(bigint, date) IS
    'A partner''s progress in every program governing as_of: basis so far, target and achievement, tier, rate, rebate earned so far, gap to the next tier and what it would pay, stacking outcome and the amount paid';

CREATE VIEW @extschema@.v_partner_progress WITH (security_invoker = true) AS
SELECT pa.tenant_id, pa.id AS partner_id, pa.code AS partner_code, pa.name AS partner_name, g.*
  FROM @extschema@.partner pa
 CROSS JOIN LATERAL @extschema@.progress(pa.id, CURRENT_DATE) g;
COMMENT ON VIEW @extschema@.v_partner_progress IS
    'Every visible partner''s progress in the programs governing today (rebate.progress); a partner user sees its own rows';

-- Trial runs: a version (or the governing one, or a draft), optionally with
-- changes to its definition, over a past period; nothing is written.
CREATE FUNCTION @extschema@.simulate(program_id bigint, period daterange, version integer DEFAULT NULL,
                                     overrides jsonb DEFAULT NULL)
    RETURNS SETOF @extschema@.program_result
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v @extschema@.program_version;
BEGIN
    SELECT * INTO v FROM @extschema@.program_version pv
     WHERE pv.program_id = simulate.program_id
       AND (CASE WHEN simulate.version IS NOT NULL THEN pv.version = simulate.version
                 ELSE pv.status = 'active' AND pv.effective && simulate.period END)
     ORDER BY lower(pv.effective) DESC LIMIT 1;
    IF v.id IS NULL THEN
        RAISE EXCEPTION 'program % has no % to simulate', program_id,
                        CASE WHEN version IS NULL THEN pg_catalog.format('active version in %s', period)
                             ELSE pg_catalog.format('version %s', version) END
            USING ERRCODE = 'no_data_found', HINT = 'Name the version (a draft too) to try.';
    END IF;
    IF overrides IS NOT NULL THEN
        v := pg_catalog.jsonb_populate_record(v, overrides - ARRAY['id', 'tenant_id', 'program_id', 'version', 'status']);
        PERFORM @extschema@.check_program_version(v);
    END IF;
    RETURN QUERY SELECT * FROM @extschema@.program_results(v, period);
END
$$;
COMMENT ON FUNCTION @extschema@.simulate(bigint, daterange, integer, jsonb) IS
    'Trial run (试算): every partner''s result for a period under a version (default: the one governing it; a draft too), with optional changes to its definition as jsonb; writes nothing';

-- What a policy change would have cost: two versions over one period, per
-- partner and (partner_id NULL) in total.
CREATE FUNCTION @extschema@.compare(program_id bigint, version_a integer, version_b integer, period daterange)
    RETURNS TABLE (partner_id bigint, component text, basis_a numeric, rebate_a numeric, basis_b numeric,
                   rebate_b numeric, delta numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH a AS (SELECT * FROM @extschema@.simulate(program_id, period, version_a)),
         b AS (SELECT * FROM @extschema@.simulate(program_id, period, version_b)),
         paired AS (
        SELECT coalesce(a.partner_id, b.partner_id) AS partner_id, coalesce(a.component, b.component) AS component,
               a.basis AS basis_a, coalesce(a.rebate, 0) AS rebate_a, b.basis AS basis_b, coalesce(b.rebate, 0) AS rebate_b
          FROM a FULL JOIN b ON a.partner_id = b.partner_id AND a.component = b.component
    )
    SELECT p.partner_id, p.component, p.basis_a, p.rebate_a, p.basis_b, p.rebate_b, p.rebate_b - p.rebate_a
      FROM paired p
    UNION ALL
    SELECT NULL, 'total', sum(p.basis_a), sum(p.rebate_a), sum(p.basis_b), sum(p.rebate_b), sum(p.rebate_b - p.rebate_a)
      FROM paired p
     ORDER BY 1 NULLS LAST, 2 DESC
$$;
COMMENT ON FUNCTION @extschema@.compare(bigint, integer, integer, daterange) IS
    'Two versions of a program over one period: each partner''s basis and rebate under both, the delta, and a total row (partner_id NULL)';

GRANT SELECT ON @extschema@.v_partner_progress TO rebate_admin, rebate_manager, rebate_partner;
-- ---------------------------------------------------------------------------
-- Amounts in words, for statements and payment documents: Chinese financial
-- capitals (大写金额) and English (C, ICU rule-based number format).
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.amount_in_words(amount numeric, locale text DEFAULT 'zh_CN',
                                            currency text DEFAULT 'CNY') RETURNS text
    AS 'MODULE_PATHNAME', 'rebate_amount_in_words' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.amount_in_words(numeric, text, text) IS
    'The amount in words, rounded half away from zero to two decimals: locale zh_CN/zh gives 大写金额 for CNY (人民币壹万贰仟叁佰肆拾伍元陆角柒分), en_US/en and en_GB give English for CNY, EUR, GBP, HKD, USD; amounts up to 9999999999999999.99';
-- ---------------------------------------------------------------------------
-- Period settlement (0.4.0): rebate.close_period writes one statement per
-- partner, period and currency, and one line per program (and program
-- period) with its explanation.  Each line settles a program period P of a
-- partner: gross is what P earns by now, rounded once with round_money in
-- the tenant's rounding mode; already_settled is what earlier statements paid
-- for P; net = gross - already_settled is what this statement pays.  That one
-- rule gives interim settlements (cumulative, paying the difference), the
-- final settlement after them, and delta adjustments for documents that
-- arrive after a period's statement was issued.  Issued statements never
-- change.
-- ---------------------------------------------------------------------------

ALTER TABLE @extschema@.tenant ADD COLUMN rounding text NOT NULL DEFAULT 'half_up'
    CHECK (rounding IN ('half_up', 'half_even', 'down', 'up'));
COMMENT ON COLUMN @extschema@.tenant.rounding IS
    'How statement lines round to the currency''s minor unit (rebate.round_money mode): half_up, half_even, down, up';

CREATE TABLE @extschema@.statement (
    id                bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id         bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    partner_id        bigint NOT NULL,
    period            daterange NOT NULL CHECK (NOT isempty(period) AND NOT lower_inf(period) AND NOT upper_inf(period)),
    currency          text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status            text NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'issued', 'confirmed', 'disputed', 'resolved', 'paid')),
    total             numeric NOT NULL DEFAULT 0,
    line_count        integer NOT NULL DEFAULT 0,
    closed_at         timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    closed_by         name NOT NULL DEFAULT @extschema@.acting_role(),
    closed_xmin       bigint NOT NULL DEFAULT pg_catalog.txid_snapshot_xmin(pg_catalog.txid_current_snapshot()),
    issued_at         timestamptz,
    issued_by         name,
    answered_at       timestamptz,
    answered_by       name,
    dispute_reason    text,
    resolved_at       timestamptz,
    resolved_by       name,
    resolution_note   text,
    paid_at           timestamptz,
    paid_by           name,
    payment_reference text,
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, partner_id, period, currency),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id),
    CHECK (status <> 'disputed' OR btrim(coalesce(dispute_reason, '')) <> '')
);
CREATE INDEX statement_tenant_period ON @extschema@.statement (tenant_id, status, period);
COMMENT ON TABLE @extschema@.statement IS
    'Rebate statements (返利对账单): one per partner, settlement period and currency, written by rebate.close_period; total is the sum of its lines'' net amounts';
COMMENT ON COLUMN @extschema@.statement.status IS
    'draft (recomputed by closing the period again) -> issued -> confirmed or disputed (by the partner) ; disputed -> resolved (with an adjustment) ; confirmed or resolved -> paid';
COMMENT ON COLUMN @extschema@.statement.total IS 'The sum of the lines'' net amounts, in the currency''s minor unit';
COMMENT ON COLUMN @extschema@.statement.closed_xmin IS
    'Every transaction numbered below this had ended when the close computed: the next close looks for changes in the audit log from here on';

CREATE TABLE @extschema@.statement_adjustment (
    id            bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id     bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    partner_id    bigint NOT NULL,
    statement_id  bigint NOT NULL,
    amount        numeric NOT NULL CHECK (amount <> 0),
    currency      text NOT NULL,
    note          text NOT NULL CHECK (btrim(note) <> ''),
    created_by    name NOT NULL DEFAULT @extschema@.acting_role(),
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, statement_id) REFERENCES @extschema@.statement (tenant_id, id),
    FOREIGN KEY (tenant_id, partner_id) REFERENCES @extschema@.partner (tenant_id, id)
);
COMMENT ON TABLE @extschema@.statement_adjustment IS
    'Amounts agreed when a disputed statement is resolved; the next close puts each on the partner''s next statement as a manual line';

CREATE TABLE @extschema@.statement_line (
    id               bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    tenant_id        bigint NOT NULL DEFAULT @extschema@.current_tenant_id() REFERENCES @extschema@.tenant,
    statement_id     bigint NOT NULL,
    partner_id       bigint NOT NULL,
    line_no          integer NOT NULL,
    line_kind        text NOT NULL CHECK (line_kind IN ('final', 'interim', 'adjustment', 'manual')),
    program_id       bigint,
    version_id       bigint,
    version          integer,
    component        text CHECK (component IN ('own', 'override')),
    program_period   daterange NOT NULL,
    counted_until    date,
    metric           text,
    kind             text,
    basis            numeric,
    comparison       numeric,
    tier             integer,
    rate             numeric,
    documents        bigint,
    earned           numeric,
    cap_applied      boolean,
    rebate           numeric,
    stacking         text,
    paid             numeric,
    gross            numeric NOT NULL,
    already_settled  numeric NOT NULL,
    net              numeric NOT NULL,
    settlement       text,
    status           text NOT NULL,
    explanation      text NOT NULL,
    adjustment_id    bigint,
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (statement_id, line_no),
    UNIQUE (adjustment_id),
    CHECK (net = gross - already_settled),
    CHECK ((line_kind = 'manual') = (adjustment_id IS NOT NULL)),
    CHECK ((line_kind = 'manual') = (version_id IS NULL)),
    FOREIGN KEY (tenant_id, statement_id) REFERENCES @extschema@.statement (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, program_id) REFERENCES @extschema@.program (tenant_id, id),
    FOREIGN KEY (tenant_id, version_id) REFERENCES @extschema@.program_version (tenant_id, id),
    FOREIGN KEY (tenant_id, adjustment_id) REFERENCES @extschema@.statement_adjustment (tenant_id, id)
);
CREATE INDEX statement_line_statement ON @extschema@.statement_line (statement_id);
CREATE INDEX statement_line_settled ON @extschema@.statement_line (tenant_id, partner_id, program_id, program_period);
COMMENT ON TABLE @extschema@.statement_line IS
    'One line per program, component and program period on a statement: what was counted, how it was rated, stacked and capped, and gross - already_settled = net';
COMMENT ON COLUMN @extschema@.statement_line.line_kind IS
    'final (the period''s settlement), interim (cumulative so far, a period still running), adjustment (a change to a period already settled: documents that arrived late), manual (an amount agreed on resolving a dispute)';
COMMENT ON COLUMN @extschema@.statement_line.program_period IS 'The program period the line settles, or corrects (adjustment lines), or the disputed statement''s period (manual lines)';
COMMENT ON COLUMN @extschema@.statement_line.paid IS 'What the program pays after the cap and stacking, exact';
COMMENT ON COLUMN @extschema@.statement_line.gross IS 'paid rounded once, with rebate.round_money in the tenant''s currency and rounding mode';
COMMENT ON COLUMN @extschema@.statement_line.already_settled IS 'The net amounts of earlier statements'' lines for the same partner, program, component and program period';
COMMENT ON COLUMN @extschema@.statement_line.net IS 'gross - already_settled: what this statement pays for the line';

CREATE TRIGGER lifecycle BEFORE UPDATE OF status ON @extschema@.statement
    FOR EACH ROW EXECUTE FUNCTION @extschema@.enforce_transition('status', 'draft>issued', 'issued>confirmed',
                                                                  'issued>disputed', 'disputed>resolved',
                                                                  'confirmed>paid', 'resolved>paid');

-- Only drafts change: an issued statement is a document the partner holds.
CREATE FUNCTION @extschema@.guard_statement() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st @extschema@.statement;
BEGIN
    IF TG_TABLE_NAME = 'statement' THEN
        IF TG_OP = 'INSERT' THEN
            IF NEW.status <> 'draft' THEN
                RAISE EXCEPTION 'a statement starts as a draft'
                    USING ERRCODE = 'invalid_parameter_value', HINT = 'rebate.close_period writes statements.';
            END IF;
            RETURN NEW;
        END IF;
        IF OLD.status = 'draft' THEN
            RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
        END IF;
        IF TG_OP = 'DELETE'
           OR (NEW.tenant_id, NEW.partner_id, NEW.period, NEW.currency, NEW.total, NEW.line_count)
              IS DISTINCT FROM (OLD.tenant_id, OLD.partner_id, OLD.period, OLD.currency, OLD.total, OLD.line_count) THEN
            RAISE EXCEPTION 'statement % is % and cannot change', OLD.id, OLD.status
                USING ERRCODE = 'RB061',
                      DETAIL = 'An issued statement is a document the partner holds.',
                      HINT = 'Later changes are settled as adjustment lines on the next statement.';
        END IF;
        RETURN NEW;
    END IF;
    -- statement_line: its statement must be a draft
    SELECT * INTO st FROM @extschema@.statement s
     WHERE s.id = CASE TG_OP WHEN 'DELETE' THEN OLD.statement_id ELSE NEW.statement_id END;
    IF st.status IS DISTINCT FROM 'draft' AND st.id IS NOT NULL THEN
        RAISE EXCEPTION 'statement % is % and its lines cannot change', st.id, st.status
            USING ERRCODE = 'RB061',
                  HINT = 'Later changes are settled as adjustment lines on the next statement.';
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
COMMENT ON FUNCTION @extschema@.guard_statement() IS
    'BEFORE trigger on statement and statement_line: statements start as drafts; only drafts and their lines change or go (RB061)';
CREATE TRIGGER guard BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.statement
    FOR EACH ROW EXECUTE FUNCTION @extschema@.guard_statement();
CREATE TRIGGER guard BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.statement_line
    FOR EACH ROW EXECUTE FUNCTION @extschema@.guard_statement();

-- The program periods a close settles: for every version active in the
-- tenant, each of its periods that ends inside the closed period (final:
-- closing December settles the fourth quarter and the year too), and, for
-- interim programs, the period still running at its end (interim, counted up
-- to the last day closed).
CREATE FUNCTION @extschema@.closing_jobs(tenant_id bigint, period daterange)
    RETURNS TABLE (version_id bigint, program_period daterange, as_of date, job text)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT DISTINCT v.id, pp.p,
           CASE WHEN closing_jobs.period @> (upper(pp.p) - 1) THEN upper(pp.p) - 1 ELSE upper(closing_jobs.period) - 1 END,
           CASE WHEN closing_jobs.period @> (upper(pp.p) - 1) THEN 'final' ELSE 'interim' END
      FROM @extschema@.program_version v
     CROSS JOIN LATERAL pg_catalog.generate_series(lower(closing_jobs.period), upper(closing_jobs.period) - 1,
                                                   '1 day'::interval) AS d
     CROSS JOIN LATERAL (SELECT @extschema@.program_period(v, d::date) AS p) pp
     WHERE v.tenant_id = closing_jobs.tenant_id AND v.status = 'active'
       AND v.effective @> lower(pp.p)
       AND (closing_jobs.period @> (upper(pp.p) - 1)
            OR (v.interim AND pp.p @> (upper(closing_jobs.period) - 1)))
$$;
COMMENT ON FUNCTION @extschema@.closing_jobs(bigint, daterange) IS
    'The program periods closing a period settles: final for those ending inside it, interim for interim programs'' periods still running at its end';

-- What earlier statements settled, per partner, program, component and
-- program period: the sum of their lines' net amounts.
CREATE FUNCTION @extschema@.settled_so_far(tenant_id bigint)
    RETURNS TABLE (partner_id bigint, program_id bigint, component text, program_period daterange,
                   version_id bigint, currency text, settled numeric, has_final boolean, as_of date)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.partner_id, l.program_id, l.component, l.program_period, max(l.version_id), min(s.currency),
           sum(l.net), bool_or(l.line_kind = 'final'), max(l.counted_until)
      FROM @extschema@.statement_line l
      JOIN @extschema@.statement s ON s.id = l.statement_id
     WHERE s.tenant_id = settled_so_far.tenant_id AND s.status <> 'draft' AND l.line_kind <> 'manual'
     GROUP BY l.partner_id, l.program_id, l.component, l.program_period
$$;
COMMENT ON FUNCTION @extschema@.settled_so_far(bigint) IS
    'Per partner, program, component and program period: the net amounts issued statements settled, and whether a final line was among them';

-- What documents changed since a close: the earliest day any change in the
-- audit log from transaction since_xmin on can count on (NULL: nothing
-- changed; -infinity: a change of scope, such as a partner's grade, that can
-- reach any period).  A day d reaches every program period P with
-- upper(P) + grace_days > d, so the next close recomputes only those.  Only
-- changes written with the audit trigger on are seen.
CREATE INDEX audit_log_tenant_transaction ON @extschema@.audit_log (tenant_id, transaction_id);
CREATE INDEX payment_allocation_order ON @extschema@.payment_allocation (tenant_id, order_id);

CREATE FUNCTION @extschema@.changed_since(tenant_id bigint, since_xmin bigint) RETURNS date
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH changes AS (
        SELECT a.table_name, a.changed_columns, r.doc
          FROM @extschema@.audit_log a
         CROSS JOIN LATERAL (VALUES (a.old_row), (a.new_row)) AS r (doc)
         WHERE a.tenant_id = changed_since.tenant_id AND a.transaction_id >= since_xmin AND r.doc IS NOT NULL
           AND a.table_name IN ('sales_order', 'order_line', 'payment', 'payment_allocation', 'end_customer', 'target',
                                'partner', 'product', 'product_category', 'region')
    ), orders AS (
        -- orders changed themselves, or through their lines or payment allocations, and their originals
        SELECT (c.doc ->> 'id')::bigint AS id FROM changes c WHERE c.table_name = 'sales_order'
        UNION
        SELECT (c.doc ->> 'original_order_id')::bigint FROM changes c
         WHERE c.table_name = 'sales_order' AND c.doc ->> 'original_order_id' IS NOT NULL
        UNION
        SELECT (c.doc ->> 'order_id')::bigint FROM changes c WHERE c.table_name IN ('order_line', 'payment_allocation')
    ), days AS (
        SELECT least(o.order_date, orig.order_date) AS day
          FROM orders x JOIN @extschema@.sales_order o ON o.id = x.id
          LEFT JOIN @extschema@.sales_order orig ON orig.id = o.original_order_id
        UNION ALL
        -- an order paid in advance counts (by payment date) from the first payment allocated to it
        SELECT min(p.received_on)
          FROM @extschema@.payment_allocation a JOIN @extschema@.payment p ON p.id = a.payment_id
         WHERE a.tenant_id = changed_since.tenant_id AND a.order_id IN (SELECT x.id FROM orders x)
        UNION ALL
        SELECT (c.doc ->> CASE c.table_name WHEN 'sales_order' THEN 'order_date' WHEN 'payment' THEN 'received_on'
                                            ELSE 'registered_on' END)::date
          FROM changes c WHERE c.table_name IN ('sales_order', 'payment', 'end_customer')
        UNION ALL
        SELECT p.received_on FROM changes c JOIN @extschema@.payment p ON p.id = (c.doc ->> 'payment_id')::bigint
         WHERE c.table_name = 'payment_allocation'
        UNION ALL
        SELECT lower((c.doc ->> 'period')::daterange) FROM changes c WHERE c.table_name = 'target'
        UNION ALL
        SELECT '-infinity'::date FROM changes c
         WHERE (c.table_name = 'partner' AND c.changed_columns && '{grade_id,parent_id,state,home_region_id}')
            OR (c.table_name = 'product' AND c.changed_columns && '{category_id}')
            OR (c.table_name IN ('product_category', 'region') AND c.changed_columns && '{parent_id}')
    )
    SELECT min(d.day) FROM days d
$$;
COMMENT ON FUNCTION @extschema@.changed_since(bigint, bigint) IS
    'The earliest day a document changed since transaction since_xmin (per the audit log) can count on; -infinity for changes of scope; NULL when nothing changed';

-- Closing a period.
CREATE FUNCTION @extschema@.close_period(tenant_id bigint, period daterange)
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
    SELECT * INTO t FROM @extschema@.tenant x WHERE x.id = close_period.tenant_id;
    IF t.id IS NULL THEN
        RAISE EXCEPTION 'tenant % does not exist or is not visible to you', tenant_id USING ERRCODE = 'no_data_found';
    END IF;
    IF period IS NULL OR isempty(period) OR lower_inf(period) OR upper_inf(period) THEN
        RAISE EXCEPTION 'the period to close must have a first and a last day'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = pg_catalog.format('The period given is %s.', period),
                  HINT = 'Give a range such as ''[2026-10-01,2027-01-01)''.';
    END IF;
    -- one close per tenant at a time
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('rebate.close_period', t.id));

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

    -- scratch tables for this close, gone at commit (a second close in the transaction reuses them)
    IF pg_catalog.to_regclass('pg_temp.rebate_closing_job') IS NULL THEN
        CREATE TEMP TABLE rebate_closing_job (version_id bigint, program_period daterange, as_of date, job text)
            ON COMMIT DROP;
        CREATE TEMP TABLE rebate_closing_line ON COMMIT DROP AS
            SELECT * FROM @extschema@.statement_line WITH NO DATA;
    END IF;
    TRUNCATE rebate_closing_job, rebate_closing_line;
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
END
$$;
COMMENT ON FUNCTION @extschema@.close_period(bigint, daterange) IS
    'Settles a period: draft statements per partner with a line per program period (final, interim, adjustment, manual), rounded once per line; closing again recomputes drafts and leaves issued statements alone. Returns per currency the drafts written, their lines and total, the statements kept (issued before) and how many settled program periods were rechecked for adjustments';

-- The lifecycle, by role: managers issue, resolve and mark paid; the
-- partner (or a manager on its behalf) confirms or disputes an issued one.
CREATE FUNCTION @extschema@.statement_for_update(statement_id bigint) RETURNS @extschema@.statement
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st @extschema@.statement;
BEGIN
    SELECT * INTO st FROM @extschema@.statement s WHERE s.id = statement_id;
    IF st.id IS NULL THEN
        RAISE EXCEPTION 'statement % does not exist or is not visible to you', statement_id USING ERRCODE = 'no_data_found';
    END IF;
    RETURN st;
END
$$;
COMMENT ON FUNCTION @extschema@.statement_for_update(bigint) IS 'Internal: the statement, or a clear error when it is not visible';

-- The one place a status changes: the trigger checks the transition, row
-- level security checks who may make it.  An update that security filters
-- out changes nothing; that is refused here rather than passed in silence.
CREATE FUNCTION @extschema@.set_statement_status(statement_id bigint, status text, reason text DEFAULT NULL,
                                                 reference text DEFAULT NULL)
    RETURNS @extschema@.statement
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st     @extschema@.statement := @extschema@.statement_for_update(statement_id);
    actor  name := @extschema@.acting_role();
    result @extschema@.statement;
BEGIN
    IF status = 'disputed' AND btrim(coalesce(reason, '')) = '' THEN
        RAISE EXCEPTION 'a dispute needs a reason' USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Say which line is wrong and why.';
    END IF;
    -- one statement per step: a partner user may update only the columns of its answer
    CASE status
    WHEN 'confirmed', 'disputed' THEN
        UPDATE @extschema@.statement s
           SET status = set_statement_status.status, answered_at = pg_catalog.now(), answered_by = actor,
               dispute_reason = CASE WHEN set_statement_status.status = 'disputed' THEN reason END
         WHERE s.id = st.id RETURNING s.* INTO result;
    WHEN 'issued' THEN
        UPDATE @extschema@.statement s SET status = 'issued', issued_at = pg_catalog.clock_timestamp(), issued_by = actor
         WHERE s.id = st.id RETURNING s.* INTO result;
    WHEN 'resolved' THEN
        UPDATE @extschema@.statement s
           SET status = 'resolved', resolved_at = pg_catalog.now(), resolved_by = actor, resolution_note = reason
         WHERE s.id = st.id RETURNING s.* INTO result;
    WHEN 'paid' THEN
        UPDATE @extschema@.statement s
           SET status = 'paid', paid_at = pg_catalog.now(), paid_by = actor, payment_reference = reference
         WHERE s.id = st.id RETURNING s.* INTO result;
    ELSE
        RAISE EXCEPTION 'a statement cannot be set %', status USING ERRCODE = 'invalid_parameter_value',
              HINT = 'The statuses are issued, confirmed, disputed, resolved and paid; drafts are written by rebate.close_period.';
    END CASE;
    IF result.id IS NULL THEN
        RAISE EXCEPTION 'permission denied to set statement % %', st.id, status
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = pg_catalog.format('The statement is %s.', st.status),
                  HINT = 'A partner user confirms or disputes its own issued statements; managers issue, resolve and mark paid.';
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.set_statement_status(bigint, text, text, text) IS
    'Internal: moves a statement along its lifecycle, recording who and when; row-level security decides who may';

CREATE FUNCTION @extschema@.issue_statement(statement_id bigint) RETURNS @extschema@.statement
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.set_statement_status(statement_id, 'issued') $$;
COMMENT ON FUNCTION @extschema@.issue_statement(bigint) IS 'Issues a draft statement to the partner (managers)';

CREATE FUNCTION @extschema@.issue_statements(tenant_id bigint, period daterange) RETURNS integer
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(@extschema@.set_statement_status(s.id, 'issued'))::integer
      FROM @extschema@.statement s
     WHERE s.tenant_id = issue_statements.tenant_id AND s.period = issue_statements.period AND s.status = 'draft'
$$;
COMMENT ON FUNCTION @extschema@.issue_statements(bigint, daterange) IS 'Issues every draft statement of a tenant''s period; returns how many (managers)';

CREATE FUNCTION @extschema@.confirm_statement(statement_id bigint) RETURNS @extschema@.statement
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.set_statement_status(statement_id, 'confirmed') $$;
COMMENT ON FUNCTION @extschema@.confirm_statement(bigint) IS 'The partner confirms an issued statement';

CREATE FUNCTION @extschema@.dispute_statement(statement_id bigint, reason text) RETURNS @extschema@.statement
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.set_statement_status(statement_id, 'disputed', reason) $$;
COMMENT ON FUNCTION @extschema@.dispute_statement(bigint, text) IS 'The partner disputes an issued statement, with a reason';

CREATE FUNCTION @extschema@.resolve_statement(statement_id bigint, adjustment numeric, note text)
    RETURNS @extschema@.statement
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st @extschema@.statement := @extschema@.statement_for_update(statement_id);
    result @extschema@.statement;
BEGIN
    IF btrim(coalesce(note, '')) = '' THEN
        RAISE EXCEPTION 'a resolution needs a note' USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Say what was agreed with the partner.';
    END IF;
    result := @extschema@.set_statement_status(st.id, 'resolved', note);
    IF coalesce(adjustment, 0) <> 0 THEN
        INSERT INTO @extschema@.statement_adjustment (tenant_id, partner_id, statement_id, amount, currency, note)
        VALUES (st.tenant_id, st.partner_id, st.id,
                @extschema@.round_money(adjustment, st.currency,
                                        (SELECT x.rounding FROM @extschema@.tenant x WHERE x.id = st.tenant_id)),
                st.currency, note);
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.resolve_statement(bigint, numeric, text) IS
    'Resolves a disputed statement (managers): the agreed adjustment, if not 0, goes on the partner''s next statement as a manual line';

CREATE FUNCTION @extschema@.mark_statement_paid(statement_id bigint, reference text DEFAULT NULL)
    RETURNS @extschema@.statement
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.set_statement_status(statement_id, 'paid', NULL, reference) $$;
COMMENT ON FUNCTION @extschema@.mark_statement_paid(bigint, text) IS
    'Marks a confirmed or resolved statement paid (managers), with the payment''s reference';

-- A statement with its amount in words, for printing.
CREATE VIEW @extschema@.v_statement WITH (security_invoker = true) AS
SELECT s.*, pa.code AS partner_code, pa.name AS partner_name,
       @extschema@.amount_in_words(s.total, 'zh_CN', s.currency) AS total_in_words_zh,
       @extschema@.amount_in_words(s.total, 'en', s.currency) AS total_in_words_en
  FROM @extschema@.statement s
  JOIN @extschema@.partner pa ON pa.id = s.partner_id;
COMMENT ON VIEW @extschema@.v_statement IS
    'Statements with the partner and the total in words (Chinese 大写 and English), for printing';

-- Row-level security, audit, grants.
SELECT @extschema@.apply_standard_triggers('@extschema@.statement');
SELECT @extschema@.apply_standard_triggers('@extschema@.statement_adjustment');
SELECT @extschema@.apply_tenant_rls('@extschema@.statement', 'tenant_id', 'partner_id');
SELECT @extschema@.apply_tenant_rls('@extschema@.statement_line', 'tenant_id', 'partner_id');
SELECT @extschema@.register_for_dump('@extschema@.statement_line');
SELECT @extschema@.apply_tenant_rls('@extschema@.statement_adjustment', 'tenant_id', 'partner_id');
-- partner users do not see drafts: a statement is theirs once issued
CREATE POLICY partner_sees_issued ON @extschema@.statement AS RESTRICTIVE FOR SELECT
    USING ((SELECT @extschema@.current_partner_id()) IS NULL OR status <> 'draft');
CREATE POLICY partner_sees_issued ON @extschema@.statement_line AS RESTRICTIVE FOR SELECT
    USING ((SELECT @extschema@.current_partner_id()) IS NULL
           OR EXISTS (SELECT 1 FROM @extschema@.statement s WHERE s.id = statement_id AND s.status <> 'draft'));
-- a partner user answers its own issued statements, and nothing else
CREATE POLICY partner_answers_statement ON @extschema@.statement FOR UPDATE
    USING (tenant_id = (SELECT @extschema@.current_tenant_id())
           AND partner_id = (SELECT @extschema@.current_partner_id()) AND status = 'issued')
    WITH CHECK (tenant_id = (SELECT @extschema@.current_tenant_id())
                AND partner_id = (SELECT @extschema@.current_partner_id()) AND status IN ('confirmed', 'disputed'));

GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.statement, @extschema@.statement_line,
    @extschema@.statement_adjustment TO rebate_admin, rebate_manager;
GRANT SELECT ON @extschema@.statement, @extschema@.statement_line, @extschema@.statement_adjustment,
    @extschema@.v_statement TO rebate_partner;
GRANT SELECT ON @extschema@.v_statement TO rebate_admin, rebate_manager;
GRANT UPDATE (status, answered_at, answered_by, dispute_reason, updated_at) ON @extschema@.statement TO rebate_partner;
REVOKE ALL ON FUNCTION @extschema@.close_period(bigint, daterange), @extschema@.issue_statement(bigint),
    @extschema@.issue_statements(bigint, daterange), @extschema@.resolve_statement(bigint, numeric, text),
    @extschema@.mark_statement_paid(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.close_period(bigint, daterange), @extschema@.issue_statement(bigint),
    @extschema@.issue_statements(bigint, daterange), @extschema@.resolve_statement(bigint, numeric, text),
    @extschema@.mark_statement_paid(bigint, text) TO rebate_admin, rebate_manager;
-- ---------------------------------------------------------------------------
-- Cross-check (交叉验证): rebate.verify_period recomputes a closed period's
-- statement lines by a second, independent formulation in plain SQL (its own
-- basis query, tier arithmetic, stacking, cap and rounding; none of
-- program_lines, rate_basis, tiered_rebate, overachievement_rebate,
-- apply_stacking or round_money) and reports every line that differs.
-- Reading a schedule's thresholds and values is shared; nothing else is.
-- ---------------------------------------------------------------------------

-- A schedule applied to a basis, in SQL: thresholds scaled by `scale` (the
-- target or last year's basis for ratio schedules), paying on the whole basis
-- or (apply_to excess) only on what lies above `scale`.
CREATE FUNCTION @extschema@.verify_schedule(basis numeric, schedule @extschema@.tier_schedule,
                                            scale numeric DEFAULT 1, apply_to text DEFAULT 'total')
    RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH t AS (
        SELECT n, th * scale AS lo, lead(th * scale) OVER (ORDER BY n) AS hi,
               CASE @extschema@.schedule_kind(schedule) WHEN 'percent' THEN val / 100 ELSE val END AS val
          FROM unnest(@extschema@.schedule_thresholds(schedule), @extschema@.schedule_values(schedule))
               WITH ORDINALITY AS x(th, val, n)
    ), reached AS (
        SELECT * FROM t WHERE lo <= basis ORDER BY n DESC LIMIT 1
    ), raw AS (
        SELECT CASE
            WHEN NOT EXISTS (SELECT 1 FROM reached) THEN 0
            WHEN @extschema@.schedule_kind(schedule) = 'lump_sum' THEN (SELECT val FROM reached)
            WHEN @extschema@.schedule_mode(schedule) = 'retroactive' THEN
                (SELECT val FROM reached) * CASE WHEN apply_to = 'excess' THEN greatest(basis - scale, 0) ELSE basis END
            ELSE (SELECT sum(val * greatest(least(basis, coalesce(hi, basis))
                                            - CASE WHEN apply_to = 'excess' THEN greatest(lo, scale) ELSE lo END, 0))
                    FROM t)
        END AS amount
    )
    SELECT CASE WHEN @extschema@.schedule_cap(schedule) < amount THEN @extschema@.schedule_cap(schedule) ELSE amount END
      FROM raw
$$;
COMMENT ON FUNCTION @extschema@.verify_schedule(numeric, @extschema@.tier_schedule, numeric, text) IS
    'rebate.verify_period''s own tier arithmetic: a schedule on a basis, thresholds scaled, on the whole basis or the excess, capped';

-- Rounding in SQL, by the tenant's mode, to the currency's minor unit.
CREATE FUNCTION @extschema@.verify_round(amount numeric, places integer, mode text) RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH x AS (SELECT abs(amount) * power(10::numeric, places) AS scaled, power(10::numeric, places) AS unit)
    SELECT round(sign(amount) * CASE mode
               WHEN 'down' THEN trunc(x.scaled)
               WHEN 'up' THEN ceil(x.scaled)
               WHEN 'half_even' THEN CASE WHEN x.scaled - trunc(x.scaled) = 0.5
                                          THEN trunc(x.scaled) + mod(trunc(x.scaled), 2)
                                          ELSE floor(x.scaled + 0.5) END
               ELSE floor(x.scaled + 0.5)
           END / x.unit, places)
      FROM x
$$;
COMMENT ON FUNCTION @extschema@.verify_round(numeric, integer, text) IS
    'rebate.verify_period''s own rounding: half_up, half_even, down or up to the given decimal places';

-- Each partner's basis (and per-unit amount) under a version over document
-- days [from_day, to_day), formulated anew from the documents.
CREATE FUNCTION @extschema@.verify_basis(v @extschema@.program_version, from_day date, to_day date)
    RETURNS TABLE (partner_id bigint, parent_id bigint, basis numeric, unit_amount numeric)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH partners AS (
        SELECT pa.id, pa.parent_id, pa.state, pa.home_region_id FROM @extschema@.partner pa
         WHERE pa.tenant_id = v.tenant_id
           AND (cardinality(v.partner_ids) = 0 OR pa.id IN (SELECT unnest(v.partner_ids)))
           AND (cardinality(v.grade_ids) = 0 OR pa.grade_id IN (SELECT unnest(v.grade_ids)))
    ), in_regions AS (
        SELECT r.id FROM @extschema@.region r
         WHERE r.tenant_id = v.tenant_id
           AND (cardinality(v.region_ids) = 0 OR EXISTS (SELECT 1 FROM unnest(r.path) p WHERE p IN (SELECT unnest(v.region_ids))))
    ), in_products AS (
        SELECT pr.id FROM @extschema@.product pr JOIN @extschema@.product_category c ON c.id = pr.category_id
         WHERE pr.tenant_id = v.tenant_id
           AND (cardinality(v.product_ids) = 0 OR pr.id IN (SELECT unnest(v.product_ids)))
           AND (cardinality(v.category_ids) = 0 OR EXISTS (SELECT 1 FROM unnest(c.path) p WHERE p IN (SELECT unnest(v.category_ids))))
    ), totals AS (
        SELECT ol.order_id, sum(ol.amount) AS amount FROM @extschema@.order_line ol
         WHERE ol.tenant_id = v.tenant_id GROUP BY ol.order_id
    ), paid_in_full AS (
        -- the first payment day on which the allocations reach the order's amount
        SELECT a.order_id, min(p.received_on) AS day
          FROM @extschema@.payment_allocation a JOIN @extschema@.payment p ON p.id = a.payment_id
         WHERE a.tenant_id = v.tenant_id
           AND (SELECT sum(a2.amount) FROM @extschema@.payment_allocation a2 JOIN @extschema@.payment p2 ON p2.id = a2.payment_id
                 WHERE a2.order_id = a.order_id AND (p2.received_on, p2.id) <= (p.received_on, p.id))
               >= (SELECT t.amount FROM totals t WHERE t.order_id = a.order_id)
         GROUP BY a.order_id
    ), documents AS (
        SELECT o.id, o.partner_id, o.kind,
               -- a return or credit note counts on its original sale's day
               CASE WHEN o.original_order_id IS NULL THEN o.id ELSE o.original_order_id END AS sale_id
          FROM @extschema@.sales_order o
         WHERE o.tenant_id = v.tenant_id AND o.currency = v.currency
           AND o.status IN ('approved', 'shipped', 'delivered', 'closed')
           -- by order date, an order counts on its own date and a return never before its own date
           AND (v.date_basis <> 'order'
                OR (o.order_date >= from_day + v.grace_days
                    AND (o.kind <> 'order' OR o.order_date < to_day + v.grace_days)))
           AND (o.kind = 'order' OR v.returns_reduce)
           AND o.ship_to_region_id IN (SELECT id FROM in_regions)
    ), dated AS (
        SELECT d.*,
               CASE WHEN d.kind <> 'order' AND d.sale_id = d.id THEN s.order_date
                    WHEN v.date_basis = 'order' THEN s.order_date
                    WHEN v.date_basis = 'delivery' THEN s.delivered_on
                    ELSE (SELECT f.day FROM paid_in_full f WHERE f.order_id = s.id) END AS day
          FROM documents d JOIN @extschema@.sales_order s ON s.id = d.sale_id
         WHERE s.status IN ('approved', 'shipped', 'delivered', 'closed')
    ), per_product AS (
        SELECT d.partner_id, ol.product_id,
               sum(ol.quantity * CASE d.kind WHEN 'order' THEN 1 WHEN 'return' THEN -1 ELSE 0 END) AS qty,
               sum(ol.amount * CASE d.kind WHEN 'order' THEN 1 ELSE -1 END) AS amount,
               sum(ol.quantity * CASE d.kind WHEN 'order' THEN 1 WHEN 'return' THEN -1 ELSE 0 END
                   * CASE WHEN v.metric = 'gross_margin' THEN coalesce(ol.unit_cost, 0) ELSE 0 END) AS cost
          FROM dated d JOIN @extschema@.order_line ol ON ol.order_id = d.id
         WHERE d.day >= from_day + v.grace_days AND d.day < to_day + v.grace_days
           AND ol.product_id IN (SELECT id FROM in_products)
         GROUP BY d.partner_id, ol.product_id
    ), found AS (
        SELECT pp.partner_id,
               sum(CASE v.metric WHEN 'quantity' THEN pp.qty WHEN 'gross_margin' THEN pp.amount - pp.cost ELSE pp.amount END) AS basis,
               sum(CASE WHEN v.unit_amount IS NOT NULL THEN trunc(pp.qty / v.unit_size) * v.unit_amount
                        ELSE pp.amount * v.unit_percent / 100 END) AS unit_amount
          FROM per_product pp WHERE v.metric NOT IN ('collected', 'new_customers')
         GROUP BY pp.partner_id
        UNION ALL
        SELECT p.partner_id, sum(p.amount), NULL
          FROM @extschema@.payment p JOIN partners pa ON pa.id = p.partner_id
         WHERE v.metric = 'collected' AND p.tenant_id = v.tenant_id AND p.currency = v.currency
           AND (cardinality(v.region_ids) = 0 OR pa.home_region_id IN (SELECT id FROM in_regions))
           AND p.received_on >= from_day + v.grace_days AND p.received_on < to_day + v.grace_days
         GROUP BY p.partner_id
        UNION ALL
        SELECT c.partner_id, count(*), NULL
          FROM @extschema@.end_customer c JOIN partners pa ON pa.id = c.partner_id
         WHERE v.metric = 'new_customers' AND c.tenant_id = v.tenant_id
           AND (cardinality(v.region_ids) = 0 OR coalesce(c.region_id, pa.home_region_id) IN (SELECT id FROM in_regions))
           AND c.registered_on >= from_day + v.grace_days AND c.registered_on < to_day + v.grace_days
         GROUP BY c.partner_id
    )
    SELECT pa.id, pa.parent_id, coalesce(f.basis, 0), f.unit_amount
      FROM partners pa LEFT JOIN found f ON f.partner_id = pa.id
     WHERE pa.state = 'active' OR f.partner_id IS NOT NULL
$$;
COMMENT ON FUNCTION @extschema@.verify_basis(@extschema@.program_version, date, date) IS
    'rebate.verify_period''s own basis query: each partner''s basis under a version over document days [from_day, to_day)';

-- What each partner is paid under one version for one program period counted
-- up to as_of, before stacking: own and override components.
CREATE FUNCTION @extschema@.verify_earned(v @extschema@.program_version, program_period daterange, as_of date)
    RETURNS TABLE (partner_id bigint, component text, basis numeric, earned numeric, rated boolean)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH now_ AS (
        SELECT * FROM @extschema@.verify_basis(v, lower(program_period), as_of + 1)
    ), last_year AS (
        SELECT * FROM @extschema@.verify_basis(v, (lower(program_period) - interval '1 year')::date,
                                               (as_of + 1 - interval '1 year')::date)
         WHERE v.metric = 'growth'
    ), targets AS (
        SELECT t.partner_id, sum(t.value) AS value FROM @extschema@.target t
         WHERE v.kind = 'overachievement' AND t.tenant_id = v.tenant_id AND t.period <@ program_period
           AND t.metric = CASE v.metric WHEN 'net_sales' THEN 'sales_amount' WHEN 'collected' THEN 'collected_amount'
                                        ELSE v.metric END
         GROUP BY t.partner_id
    ), own AS (
        SELECT n.partner_id, n.basis,
               CASE WHEN v.kind = 'overachievement' OR v.metric = 'growth' THEN coalesce(t.value, ly.basis) END AS against,
               n.unit_amount
          FROM now_ n
          LEFT JOIN targets t ON t.partner_id = n.partner_id
          LEFT JOIN last_year ly ON ly.partner_id = n.partner_id
    ), rated AS (
        SELECT o.partner_id, 'own'::text AS component, o.basis,
               CASE
                 WHEN (v.kind = 'overachievement' OR v.metric = 'growth') AND NOT coalesce(o.against > 0, false) THEN 0
                 WHEN v.kind = 'per_unit' THEN coalesce(o.unit_amount, 0)
                 WHEN v.kind = 'fixed' THEN CASE WHEN o.basis >= v.fixed_minimum THEN v.fixed_amount ELSE 0 END
                 WHEN v.kind = 'overachievement' OR v.metric = 'growth'
                     THEN @extschema@.verify_schedule(o.basis, v.schedule, o.against, v.apply_to)
                 ELSE @extschema@.verify_schedule(o.basis, v.schedule)
               END AS earned,
               NOT ((v.kind = 'overachievement' OR v.metric = 'growth') AND NOT coalesce(o.against > 0, false)) AS rated
          FROM own o
        UNION ALL
        SELECT n.parent_id, 'override', sum(n.basis), @extschema@.verify_schedule(sum(n.basis), v.override_schedule), true
          FROM now_ n
         WHERE v.override_schedule IS NOT NULL AND n.parent_id IS NOT NULL
         GROUP BY n.parent_id
    )
    SELECT r.partner_id, r.component, r.basis, CASE WHEN v.cap < r.earned THEN v.cap ELSE r.earned END, r.rated
      FROM rated r
$$;
COMMENT ON FUNCTION @extschema@.verify_earned(@extschema@.program_version, daterange, date) IS
    'rebate.verify_period''s own rating: each partner''s rebate under a version for a program period counted up to as_of, capped, before stacking';

CREATE FUNCTION @extschema@.verify_period(tenant_id bigint, period daterange)
    RETURNS TABLE (statement_id bigint, partner_id bigint, line_no integer, line_kind text, program_id bigint,
                   component text, program_period daterange, stored_gross numeric, verified_gross numeric,
                   stored_net numeric, verified_net numeric, problem text)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    -- the plan is large and its row estimates pessimistic: compiling it would take longer than running it
    SET jit = off
AS $$
    WITH t AS (
        SELECT x.id, x.rounding FROM @extschema@.tenant x WHERE x.id = verify_period.tenant_id
    ), stmts AS (
        SELECT s.* FROM @extschema@.statement s
         WHERE s.tenant_id = verify_period.tenant_id AND s.period = verify_period.period
    ), stored AS (
        SELECT l.*, s.closed_at FROM @extschema@.statement_line l JOIN stmts s ON s.id = l.statement_id
         WHERE l.line_kind <> 'manual'
    ), jobs AS (
        -- every (version, program period, counted up to) the period's statements settle, as stored, and
        -- every program period of an active version ending inside the period
        SELECT DISTINCT st.version_id, st.program_period, st.counted_until FROM stored st
        UNION
        SELECT v.id, p.pp, upper(p.pp) - 1
          FROM @extschema@.program_version v
         CROSS JOIN LATERAL (
            SELECT CASE WHEN v.period_unit = 'range' THEN v.effective
                        ELSE daterange(date_trunc(v.period_unit, e::timestamp)::date,
                                       (date_trunc(v.period_unit, e::timestamp)
                                        + CASE v.period_unit WHEN 'quarter' THEN interval '3 months'
                                                                   ELSE ('1 ' || v.period_unit)::interval END)::date) END AS pp
              FROM (SELECT upper(verify_period.period) - 1 AS e
                    UNION SELECT d::date FROM generate_series(lower(verify_period.period), upper(verify_period.period) - 1,
                                                              interval '1 month') d) ends) p
         WHERE v.tenant_id = verify_period.tenant_id AND v.status = 'active' AND v.effective @> lower(p.pp)
           AND verify_period.period @> (upper(p.pp) - 1)
    ), all_jobs AS (
        -- stacking needs every program of a job's group for the same period
        SELECT j.* FROM jobs j
        UNION
        SELECT g.id, j.program_period, j.counted_until
          FROM jobs j JOIN @extschema@.program_version v ON v.id = j.version_id
          JOIN @extschema@.program_version g ON g.group_id = v.group_id AND g.status = 'active'
                                            AND g.effective @> lower(j.program_period)
    ), earned AS (
        SELECT j.version_id, j.program_period, j.counted_until, v.program_id, v.group_id, v.priority, v.metric,
               v.currency, e.*
          FROM all_jobs j JOIN @extschema@.program_version v ON v.id = j.version_id,
               LATERAL @extschema@.verify_earned(v, j.program_period, j.counted_until) e
    ), numbered AS (
        SELECT e.*, g.rule,
               row_number() OVER (PARTITION BY e.partner_id, e.group_id, e.program_period, e.component
                                  ORDER BY e.priority, e.program_id) AS n
          FROM earned e LEFT JOIN @extschema@.program_group g ON g.id = e.group_id
    ), ranked AS (
        -- the member max pays (most, then first in priority order) and the one exclusive pays (first that earns)
        SELECT x.*,
               first_value(x.n) OVER (PARTITION BY x.partner_id, x.group_id, x.program_period, x.component
                                      ORDER BY x.earned DESC, x.n) AS max_n,
               min(x.n) FILTER (WHERE x.earned > 0)
                   OVER (PARTITION BY x.partner_id, x.group_id, x.program_period, x.component) AS first_earning_n
          FROM numbered x
    ), cascaded AS (
        -- cascade: in priority order, an amount basis less what the earlier programs paid, rated again
        WITH RECURSIVE c AS (
            SELECT r.*, r.earned AS pays, r.earned AS paid_so_far FROM ranked r WHERE r.rule = 'cascade' AND r.n = 1
            UNION ALL
            SELECT r.*, x.pays, c.paid_so_far + x.pays
              FROM c JOIN ranked r ON r.partner_id = c.partner_id AND r.group_id = c.group_id
                                  AND r.program_period = c.program_period AND r.component = c.component AND r.n = c.n + 1
             CROSS JOIN LATERAL (
                SELECT CASE WHEN r.metric IN ('net_sales', 'gross_margin', 'collected', 'growth') AND r.rated
                                 AND c.paid_so_far <> 0
                            THEN (SELECT ve.earned FROM @extschema@.program_version v2,
                                         LATERAL (SELECT CASE
                                             WHEN v2.kind = 'per_unit' THEN (r.basis - c.paid_so_far) * v2.unit_percent / 100
                                             WHEN v2.kind = 'fixed' THEN CASE WHEN r.basis - c.paid_so_far >= v2.fixed_minimum THEN v2.fixed_amount ELSE 0 END
                                             WHEN v2.kind = 'overachievement' OR v2.metric = 'growth'
                                                 THEN @extschema@.verify_schedule(r.basis - c.paid_so_far, v2.schedule,
                                                        coalesce((SELECT sum(tg.value) FROM @extschema@.target tg
                                                                   WHERE v2.kind = 'overachievement' AND tg.partner_id = r.partner_id
                                                                     AND tg.period <@ r.program_period
                                                                     AND tg.metric = CASE v2.metric WHEN 'net_sales' THEN 'sales_amount' WHEN 'collected' THEN 'collected_amount' ELSE v2.metric END),
                                                                 (SELECT ly.basis FROM @extschema@.verify_basis(v2, (lower(r.program_period) - interval '1 year')::date,
                                                                                                               (r.counted_until + 1 - interval '1 year')::date) ly
                                                                   WHERE ly.partner_id = r.partner_id)),
                                                        v2.apply_to)
                                             ELSE @extschema@.verify_schedule(r.basis - c.paid_so_far, v2.schedule) END AS raw) x2,
                                         LATERAL (SELECT CASE WHEN v2.cap < x2.raw THEN v2.cap ELSE x2.raw END AS earned) ve
                                   WHERE v2.id = r.version_id)
                            ELSE r.earned END AS pays) x
        )
        SELECT c.version_id, c.program_period, c.partner_id, c.component, c.pays FROM c
    ), paid AS (
        SELECT r.version_id, r.program_period, r.counted_until, r.program_id, r.partner_id, r.component, r.currency,
               CASE
                 WHEN r.group_id IS NULL OR r.component <> 'own' OR r.rule = 'sum' THEN r.earned
                 WHEN r.rule = 'max' THEN CASE WHEN r.n = r.max_n THEN r.earned ELSE 0 END
                 WHEN r.rule = 'exclusive' THEN CASE WHEN r.n = r.first_earning_n THEN r.earned ELSE 0 END
                 ELSE c.pays
               END AS exact
          FROM ranked r
          LEFT JOIN cascaded c ON c.version_id = r.version_id AND c.program_period = r.program_period
                              AND c.partner_id = r.partner_id AND c.component = r.component
    ), verified AS (
        SELECT p.*, @extschema@.verify_round(p.exact, @extschema@.currency_minor_unit(p.currency), t.rounding) AS gross
          FROM paid p, t
    ), compared AS (
        SELECT coalesce(st.statement_id, s.id) AS statement_id, coalesce(st.partner_id, v.partner_id) AS partner_id, st.line_no, st.line_kind,
               coalesce(st.program_id, v.program_id) AS program_id, coalesce(st.component, v.component) AS component,
               coalesce(st.program_period, v.program_period) AS program_period,
               st.gross AS stored_gross, v.gross AS verified_gross, st.net AS stored_net,
               v.gross - coalesce((SELECT sum(l.net) FROM @extschema@.statement_line l
                                     JOIN @extschema@.statement s2 ON s2.id = l.statement_id
                                    WHERE l.tenant_id = verify_period.tenant_id
                                      AND l.partner_id = coalesce(st.partner_id, v.partner_id)
                                      AND l.program_id = coalesce(st.program_id, v.program_id)
                                      AND l.component = coalesce(st.component, v.component)
                                      AND l.program_period = coalesce(st.program_period, v.program_period)
                                      AND s2.status <> 'draft' AND s2.issued_at < coalesce(st.closed_at, s.closed_at, 'infinity')
                                      AND s2.id <> coalesce(st.statement_id, -1)), 0) AS verified_net
          FROM stored st
          FULL JOIN verified v ON v.partner_id = st.partner_id AND v.program_id = st.program_id
                              AND v.component = st.component AND v.program_period = st.program_period
                              AND v.counted_until = st.counted_until
          LEFT JOIN @extschema@.statement s ON s.tenant_id = verify_period.tenant_id AND s.partner_id = v.partner_id
                                           AND s.period = verify_period.period AND s.currency = v.currency
    )
    SELECT c.statement_id, c.partner_id, c.line_no, c.line_kind, c.program_id, c.component, c.program_period,
           c.stored_gross, c.verified_gross, c.stored_net, c.verified_net,
           CASE WHEN c.stored_gross IS NULL THEN 'missing: the recomputation pays it, no statement line does'
                WHEN c.verified_gross IS NULL THEN 'unexpected: no recomputation for this line'
                ELSE 'differs' END
      FROM compared c
     WHERE c.stored_gross IS DISTINCT FROM c.verified_gross
        OR c.stored_net IS DISTINCT FROM c.verified_net
    -- a missing line matters only where it would pay something or settle a period for the first time
    EXCEPT
    SELECT c.statement_id, c.partner_id, c.line_no, c.line_kind, c.program_id, c.component, c.program_period,
           c.stored_gross, c.verified_gross, c.stored_net, c.verified_net,
           'missing: the recomputation pays it, no statement line does'
      FROM compared c
     WHERE c.stored_gross IS NULL AND c.verified_net = 0
       AND EXISTS (SELECT 1 FROM @extschema@.statement_line l JOIN @extschema@.statement s2 ON s2.id = l.statement_id
                    WHERE l.tenant_id = verify_period.tenant_id
                      AND l.partner_id = c.partner_id AND l.program_id = c.program_id AND l.component = c.component
                      AND l.program_period = c.program_period AND s2.status <> 'draft' AND l.line_kind = 'final')
     ORDER BY 2, 5, 6, 7
$$;
COMMENT ON FUNCTION @extschema@.verify_period(bigint, daterange) IS
    'Cross-check (交叉验证): recomputes the statement lines of a tenant''s period by an independent plain-SQL formulation and returns every line that differs (none when all agree)';

GRANT EXECUTE ON FUNCTION @extschema@.verify_period(bigint, daterange) TO rebate_admin, rebate_manager;
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

-- ---------------------------------------------------------------------------
-- Facts about this installation, for DBAs.
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.icu_version() RETURNS text
    AS 'MODULE_PATHNAME', 'rebate_icu_version' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.icu_version() IS 'The ICU version the rebate module runs with';
