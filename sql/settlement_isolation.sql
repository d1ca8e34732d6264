-- close_period settles only in READ COMMITTED transactions: under REPEATABLE
-- READ or SERIALIZABLE, a close that waited for another close of the same
-- tenant would settle on a snapshot taken before that close committed, and
-- pay again what it settled.  The refusal, exactly, and the same call
-- passing the check in READ COMMITTED (where the tenant, which does not
-- exist, is what it meets next).
SET search_path = public, rebate;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM public.error_of($$SELECT * FROM rebate.close_period(1, '[2026-01-01,2026-02-01)')$$);
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT code, message FROM public.error_of($$SELECT * FROM rebate.close_period(1, '[2026-01-01,2026-02-01)')$$);
ROLLBACK;
SELECT code, message FROM public.error_of($$SELECT * FROM rebate.close_period(1, '[2026-01-01,2026-02-01)')$$);
