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

/* RB01x: price policy */
#define ERRCODE_REBATE_PRICE_BELOW_FLOOR	MAKE_SQLSTATE('R','B','0','1','0')
#define ERRCODE_REBATE_PRICE_ABOVE_CEILING	MAKE_SQLSTATE('R','B','0','1','1')
#define ERRCODE_REBATE_NO_PRICE_POLICY		MAKE_SQLSTATE('R','B','0','1','2')

/* RB02x: region policy (窜货) */
#define ERRCODE_REBATE_OUTSIDE_TERRITORY	MAKE_SQLSTATE('R','B','0','2','0')
#define ERRCODE_REBATE_PRODUCT_NOT_AUTHORISED MAKE_SQLSTATE('R','B','0','2','1')
#define ERRCODE_REBATE_PRODUCT_NOT_CERTIFIED MAKE_SQLSTATE('R','B','0','2','6')

/* RB03x: credit */
#define ERRCODE_REBATE_CREDIT_LIMIT			MAKE_SQLSTATE('R','B','0','3','0')

/* RB04x: order state rules */
#define ERRCODE_REBATE_ORDER_LOCKED			MAKE_SQLSTATE('R','B','0','4','0')
#define ERRCODE_REBATE_PARTNER_NOT_ACTIVE	MAKE_SQLSTATE('R','B','0','4','1')

/* RB050 (raised from SQL): a violation was already resolved */

#endif
