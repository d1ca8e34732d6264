/*
 * region_policy.c — rebate.enforce_region_policy(): against selling outside
 * one's territory (窜货).  The ship-to region must lie inside a territory of
 * the partner valid on the order date, and the product must be authorised
 * for sale there (rebate.product_region; a product without rows may be sold
 * everywhere).  Both follow the region tree: a territory of 华东 covers
 * 上海 and 浦东.  On rebate.order_line the territory is the order's affair
 * (rebate.enforce_order_policy judges it once per order); the line judges
 * its product.  A product (or a category above it) may also require the
 * partner to hold valid certificates on the order date
 * (rebate.certification_requirement, certification.sql).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "policy.h"
#include "rebate_errcodes.h"

PG_FUNCTION_INFO_V1(rebate_enforce_region_policy);

static const char *const function_name = "rebate.enforce_region_policy()";

static SavedPlan territories_plan = {
	"SELECT pg_catalog.string_agg(pg_catalog.format('\"%s\" from %s%s', r.name,"
	"           pg_catalog.to_char(pg_catalog.lower(t.valid), 'YYYY-MM-DD'),"
	"           CASE WHEN pg_catalog.upper_inf(t.valid) THEN ''"
	"                ELSE ' until ' OPERATOR(pg_catalog.||) pg_catalog.to_char(pg_catalog.upper(t.valid), 'YYYY-MM-DD') END),"
	"           ', ' ORDER BY r.name)"
	"  FROM rebate.partner_territory t JOIN rebate.region r ON r.id OPERATOR(pg_catalog.=) t.region_id"
	" WHERE t.partner_id OPERATOR(pg_catalog.=) $1",
	1, {INT8OID}, NULL
};

static char *
territory_detail(PolicySpi *spi, Oid reader, int64 partner_id)
{
	Datum		arg = Int64GetDatum(partner_id);
	char	   *list;

	policy_spi_run(spi, &territories_plan, reader, &arg, NULL);
	list = policy_spi_text(0, 1);
	return list ? psprintf("Its territories: %s.", list) : pstrdup("It has no territory at all.");
}

void
policy_fill_territory_breach(PolicyBreach *b, PolicySpi *spi, Oid reader, const char *partner, const char *region,
							 DateADT on_date, int64 partner_id)
{
	b->sqlerrcode = ERRCODE_REBATE_OUTSIDE_TERRITORY;
	b->message = psprintf("partner %s may not sell into region %s on %s: it lies outside the partner's territories",
						  partner, region, policy_date_text(on_date));
	b->detail = territory_detail(spi, reader, partner_id);
	b->hint = pstrdup("Ship to a region inside the partner's territory, or have a manager extend "
					  "its territory (rebate.partner_territory).");
}

void
policy_fill_product_region_breach(PolicyBreach *b, const char *product, const char *region)
{
	b->sqlerrcode = ERRCODE_REBATE_PRODUCT_NOT_AUTHORISED;
	b->message = psprintf("product %s is not authorised for sale in region %s", product, region);
	b->detail = pstrdup("The product has rows in rebate.product_region and none covers this region.");
	b->hint = pstrdup("Ship the product only to its authorised regions, or have a manager authorise "
					  "it here (rebate.product_region).");
}

static void
fill_certification_breach(PolicyBreach *b, const char *partner, const char *product, DateADT on_date,
						  const char *missing)
{
	b->sqlerrcode = ERRCODE_REBATE_PRODUCT_NOT_CERTIFIED;
	b->message = psprintf("partner %s is not certified to sell product %s on %s", partner, product,
						  policy_date_text(on_date));
	b->detail = psprintf("It lacks valid certificates: %s.", missing);
	b->hint = pstrdup("Have the partner's staff certified (rebate.record_exam_result), or have a manager "
					  "change the requirement (rebate.certification_requirement).");
}

static void
judge_row(PolicySpi *spi, PolicyRow *row)
{
	TenantSettings settings;
	PolicyBreach breach;
	char	   *product;
	char	   *partner;
	char	   *region;
	char	   *missing;
	int64		violation;

	policy_tenant_settings(spi, row->reader, row->tenant_id, &settings);
	if (!row->standard && settings.territory != MODE_ALLOW &&
		policy_row_changed(row, PF_BIT(PF_PARTNER) | PF_BIT(PF_REGION) | PF_BIT(PF_ORDER_DATE)) &&
		!policy_in_territory(spi, row->reader, row->partner_id, row->region_id, row->order_date))
	{
		policy_names(spi, row->reader, row->product_id, row->partner_id, row->region_id, NULL, &partner, &region);
		policy_breach_for_row(&breach, row, "territory", settings.territory);
		policy_fill_territory_breach(&breach, spi, row->reader, partner, region, row->order_date, row->partner_id);
		violation = policy_breach(spi, &breach);
		policy_hold_row(spi, row, violation);
	}
	if (settings.product_region != MODE_ALLOW &&
		policy_row_changed(row, PF_BIT(PF_PRODUCT) | PF_BIT(PF_REGION)) &&
		!policy_product_authorised(spi, row->reader, row->product_id, row->region_id))
	{
		policy_names(spi, row->reader, row->product_id, row->partner_id, row->region_id, &product, NULL, &region);
		policy_breach_for_row(&breach, row, "product_region", settings.product_region);
		policy_fill_product_region_breach(&breach, product, region);
		violation = policy_breach(spi, &breach);
		policy_hold_row(spi, row, violation);
	}
	if (settings.certification != MODE_ALLOW &&
		policy_row_changed(row, PF_BIT(PF_PARTNER) | PF_BIT(PF_PRODUCT) | PF_BIT(PF_ORDER_DATE)) &&
		policy_product_needs_certification(spi, row->reader, row->product_id) &&
		(missing = policy_missing_certifications(spi, row->reader, row->partner_id, row->product_id,
												 row->order_date)) != NULL)
	{
		policy_names(spi, row->reader, row->product_id, row->partner_id, row->region_id, &product, &partner, NULL);
		policy_breach_for_row(&breach, row, "certification", settings.certification);
		fill_certification_breach(&breach, partner, product, row->order_date, missing);
		violation = policy_breach(spi, &breach);
		policy_hold_row(spi, row, violation);
	}
}

Datum
rebate_enforce_region_policy(PG_FUNCTION_ARGS)
{
	/* each rule looks at its own fields' changes */
	return policy_row_trigger(fcinfo, function_name, PF_BIT(PF_PARTNER) | PF_BIT(PF_PRODUCT) | PF_BIT(PF_REGION), 0,
							  judge_row);
}
