/*
 * state_machine.c — a trigger that lets a state column move only along the
 * transitions a table declares.
 *
 *     CREATE TRIGGER partner_state BEFORE INSERT OR UPDATE OF state ON rebate.partner
 *         FOR EACH ROW EXECUTE FUNCTION rebate.enforce_transition(
 *             'state', '>applicant', 'applicant>active', 'applicant>rejected', ...);
 *
 * The first argument names the column; each further one is "from>to", with
 * an empty "from" for the states a row may be inserted in.  Staying in the
 * same state is always allowed.  A refusal is SQLSTATE RB001.
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/rel.h"

#include "rebate_errcodes.h"

PG_FUNCTION_INFO_V1(rebate_enforce_transition);

static bool
transition_allowed(Trigger *trigger, const char *from, const char *to)
{
	size_t		from_len = from ? strlen(from) : 0;

	for (int i = 1; i < trigger->tgnargs; i++)
	{
		const char *arg = trigger->tgargs[i];
		const char *arrow = strchr(arg, '>');

		if (arrow == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid transition \"%s\" in trigger \"%s\"", arg, trigger->tgname),
					 errhint("Write each transition as \"from>to\", or \">to\" for a state rows may start in.")));
		if ((size_t) (arrow - arg) == from_len &&
			(from_len == 0 || strncmp(arg, from, from_len) == 0) &&
			strcmp(arrow + 1, to) == 0)
			return true;
	}
	return false;
}

/* The states reachable from "from", for the error detail. */
static char *
allowed_targets(Trigger *trigger, const char *from)
{
	StringInfoData out;
	size_t		from_len = from ? strlen(from) : 0;

	initStringInfo(&out);
	for (int i = 1; i < trigger->tgnargs; i++)
	{
		const char *arg = trigger->tgargs[i];
		const char *arrow = strchr(arg, '>');

		if (arrow != NULL && (size_t) (arrow - arg) == from_len &&
			(from_len == 0 || strncmp(arg, from, from_len) == 0))
			appendStringInfo(&out, "%s\"%s\"", out.len > 0 ? ", " : "", arrow + 1);
	}
	return out.len > 0 ? out.data : pstrdup("none");
}

Datum
rebate_enforce_transition(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;
	TupleDesc	desc;
	HeapTuple	new_row;
	int			attnum;
	char	   *to;
	char	   *from = NULL;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("enforce_transition must be called as a BEFORE ROW trigger")));
	trigger = trigdata->tg_trigger;
	if (trigger->tgnargs < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("trigger \"%s\" needs a column name and at least one transition", trigger->tgname)));

	desc = RelationGetDescr(trigdata->tg_relation);
	attnum = SPI_fnumber(desc, trigger->tgargs[0]);
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of trigger \"%s\" does not exist", trigger->tgargs[0], trigger->tgname)));

	new_row = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		return PointerGetDatum(trigdata->tg_trigtuple);

	to = SPI_getvalue(new_row, desc, attnum);
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		from = SPI_getvalue(trigdata->tg_trigtuple, desc, attnum);
		if (from != NULL && to != NULL && strcmp(from, to) == 0)
			return PointerGetDatum(new_row);
	}

	if (to == NULL || !transition_allowed(trigger, from, to))
	{
		const char *table = RelationGetRelationName(trigdata->tg_relation);

		if (from == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_REBATE_ILLEGAL_TRANSITION),
					 errmsg("a new %s row cannot start in state \"%s\"", table, to ? to : "NULL"),
					 errdetail("Rows start in %s.", allowed_targets(trigger, NULL))));
		ereport(ERROR,
				(errcode(ERRCODE_REBATE_ILLEGAL_TRANSITION),
				 errmsg("%s cannot go from state \"%s\" to \"%s\"", table, from, to ? to : "NULL"),
				 errdetail("From \"%s\" it can go to %s.", from, allowed_targets(trigger, from)),
				 errhint("Make the transitions one step at a time, in the order the lifecycle allows.")));
	}
	return PointerGetDatum(new_row);
}
