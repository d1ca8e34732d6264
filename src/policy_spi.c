/*
 * policy_spi.c — SPI for the policy triggers: each query is prepared once
 * per backend and kept, and runs as a role the trigger chooses (the owner
 * of the table judged, like PostgreSQL's foreign-key triggers), so that a
 * partner user's order is judged exactly like a manager's.  Each query is
 * prepared and run under search_path = pg_catalog, pg_temp, whatever the
 * writer set: a name it resolves is never the writer's own temporary type or
 * table (a domain named "date" in pg_temp, its check run as the owner, would
 * be a way to the owner's rights; and a kept plan serves the backend's later
 * users).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "policy.h"

uint64
policy_spi_run(PolicySpi *spi, SavedPlan *plan, Oid as_role, Datum *values, const char *nulls)
{
	Oid			saved_role;
	int			saved_context;
	int			rc;
	int			guc_level;

	if (!spi->connected)
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		spi->connected = true;
		if (spi->transition != NULL && SPI_register_trigger_data(spi->transition) != SPI_OK_TD_REGISTER)
			elog(ERROR, "SPI_register_trigger_data failed");
	}
	guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (work_mem < spi->work_mem_kb)
		(void) set_config_option("work_mem", psprintf("%d", spi->work_mem_kb), PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	if (plan->plan == NULL)
	{
		SPIPlanPtr	prepared = SPI_prepare(plan->sql, plan->nargs, plan->argtypes);

		if (prepared == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", plan->sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(prepared) != 0)
			elog(ERROR, "SPI_keepplan failed");
		plan->plan = prepared;
	}

	GetUserIdAndSecContext(&saved_role, &saved_context);
	SetUserIdAndSecContext(as_role, saved_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	/* not read-only: a fresh snapshot sees what earlier rows of this statement did */
	if (spi->snapshot != NULL)
		rc = SPI_execute_snapshot(plan->plan, values, nulls, spi->snapshot, InvalidSnapshot, true, true, 0);
	else
		rc = SPI_execute_plan(plan->plan, values, nulls, false, 0);
	SetUserIdAndSecContext(saved_role, saved_context);
	AtEOXact_GUC(true, guc_level);

	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed for \"%s\": %s", plan->sql, SPI_result_code_string(rc));
	return SPI_processed;
}

void
policy_spi_finish(PolicySpi *spi)
{
	if (spi->connected)
	{
		SPI_finish();
		spi->connected = false;
	}
}

Datum
policy_spi_value(int row, int column, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column, isnull);
}

char *
policy_spi_text(int row, int column)
{
	bool		isnull;
	Datum		value = policy_spi_value(row, column, &isnull);

	return isnull ? NULL : TextDatumGetCString(value);
}

int64
policy_spi_int64(int row, int column)
{
	bool		isnull;
	Datum		value = policy_spi_value(row, column, &isnull);

	return isnull ? 0 : DatumGetInt64(value);
}

Numeric
policy_spi_numeric(int row, int column)
{
	bool		isnull;
	Datum		value = policy_spi_value(row, column, &isnull);

	return isnull ? NULL : DatumGetNumeric(value);
}
