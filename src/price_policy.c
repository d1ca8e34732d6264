/*
 * price_policy.c — rebate.enforce_price_policy(): an order line's unit price
 * must lie within the floor (价格底线) and ceiling of the price policy in
 * effect for its product, partner, ship-to region, date and quantity
 * (rebate.effective_price's choice).  Below the floor or above the ceiling
 * the policy's enforcement mode decides; with no policy, the tenant's.  An
 * update is judged only when product, price or quantity (or, on an
 * application's table, partner, region or date) changed: lines already
 * written are never re-judged by a later policy.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "policy.h"
#include "rebate_errcodes.h"

PG_FUNCTION_INFO_V1(rebate_enforce_price_policy);

static const char *const function_name = "rebate.enforce_price_policy()";

static void
judge_line(PolicySpi *spi, PolicyRow *row)
{
	TenantSettings settings;
	PriceCandidate policy;
	PolicyBreach breach;
	bool		below;
	char	   *product;
	char	   *partner;
	char	   *region;
	int64		violation;

	policy_tenant_settings(spi, row->reader, row->tenant_id, &settings);
	if (!policy_effective_price(spi, row->reader, row->product_id, row->partner_id, row->region_id,
								row->has_region, row->order_date, row->quantity, &policy))
	{
		if (settings.no_price_policy == MODE_ALLOW)
			return;
		policy_names(spi, row->reader, row->product_id, row->partner_id, row->region_id, &product, &partner, &region);
		policy_breach_for_row(&breach, row, "no_price_policy", settings.no_price_policy);
		breach.sqlerrcode = ERRCODE_REBATE_NO_PRICE_POLICY;
		breach.actual = row->unit_price;
		breach.message = psprintf("no price policy applies to product %s for partner %s on %s",
								  product, partner, policy_date_text(row->order_date));
		breach.detail = psprintf("The ship-to region is %s; this tenant does not accept lines without a price policy.",
								 row->has_region ? region : "not given");
		breach.hint = pstrdup("Have a manager add a price policy for the product or its category, "
							  "or set rebate.enforcement_setting.no_price_policy to allow.");
		violation = policy_breach(spi, &breach);
		policy_hold_row(spi, row, violation);
		return;
	}

	below = policy.floor_price != NULL && policy_numeric_cmp(row->unit_price, policy.floor_price) < 0;
	if (!below && !(policy.ceiling_price != NULL && policy_numeric_cmp(row->unit_price, policy.ceiling_price) > 0))
		return;

	policy_names(spi, row->reader, row->product_id, row->partner_id, row->region_id, &product, &partner, &region);
	policy_breach_for_row(&breach, row, below ? "price_floor" : "price_ceiling",
						  policy.review ? MODE_REVIEW : MODE_REJECT);
	breach.sqlerrcode = below ? ERRCODE_REBATE_PRICE_BELOW_FLOOR : ERRCODE_REBATE_PRICE_ABOVE_CEILING;
	breach.expected = below ? policy.floor_price : policy.ceiling_price;
	breach.actual = row->unit_price;
	breach.amount = DatumGetNumeric(DirectFunctionCall2(numeric_mul, NumericGetDatum(row->unit_price),
														NumericGetDatum(row->quantity)));
	breach.policy_id = policy.policy_id;
	breach.message = psprintf("unit price %s of product %s for partner %s is %s the %s %s",
							  policy_numeric_text(row->unit_price), product, partner,
							  below ? "below" : "above", below ? "floor" : "ceiling",
							  policy_numeric_text(breach.expected));
	breach.detail = psprintf("Price policy \"%s\" (id %lld) applies on %s in region %s for quantity %s.",
							 policy.code, (long long) policy.policy_id, policy_date_text(row->order_date),
							 row->has_region ? region : "(any)", policy_numeric_text(row->quantity));
	breach.hint = below
		? pstrdup("Invoice at or above the floor, or have a manager change the price policy or set its enforcement to review.")
		: pstrdup("Invoice at or below the ceiling, or have a manager change the price policy or set its enforcement to review.");
	violation = policy_breach(spi, &breach);
	policy_hold_row(spi, row, violation);
}

Datum
rebate_enforce_price_policy(PG_FUNCTION_ARGS)
{
	return policy_row_trigger(fcinfo, function_name, PF_BIT(PF_PARTNER) | PF_BIT(PF_PRODUCT) | PF_BIT(PF_UNIT_PRICE),
							  PF_BIT(PF_PRODUCT) | PF_BIT(PF_UNIT_PRICE) | PF_BIT(PF_QUANTITY) |
							  PF_BIT(PF_PARTNER) | PF_BIT(PF_REGION) | PF_BIT(PF_ORDER_DATE),
							  judge_line);
}
