/*
 * rebate_errcodes.h — the extension's own SQLSTATEs: class RB, business-rule
 * refusals.  Data errors use PostgreSQL's standard codes.  Every code here is
 * listed in docs/errors.md.
 */
#ifndef REBATE_ERRCODES_H
#define REBATE_ERRCODES_H

#include "postgres.h"

/* RB001: a state column moved along a transition its lifecycle does not allow */
#define ERRCODE_REBATE_ILLEGAL_TRANSITION	MAKE_SQLSTATE('R','B','0','0','1')

#endif
