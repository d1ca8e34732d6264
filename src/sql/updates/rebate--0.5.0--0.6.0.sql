\echo Use "ALTER EXTENSION rebate UPDATE TO '0.6.0'" to load this file. \quit

-- rebate 0.5.0 -> 0.6.0: the source laid out by topic (issue 14).

-- ---- every column of every view has a comment --------------------------------
-- (region_performance_snapshot's, made again below, get theirs there)
COMMENT ON COLUMN @extschema@.channel_fact.tenant_id IS '租户 Tenant: the manufacturer or brand';
COMMENT ON COLUMN @extschema@.channel_fact.partner_id IS '渠道商 Partner id (rebate.partner)';
COMMENT ON COLUMN @extschema@.channel_fact.currency IS '币种 Currency of the amounts';
COMMENT ON COLUMN @extschema@.channel_fact.order_id IS '订单 Order, return or credit note id (rebate.sales_order); NULL for payments';
COMMENT ON COLUMN @extschema@.channel_fact.order_line_id IS '订单行 Order line id (rebate.order_line); NULL for payments';
COMMENT ON COLUMN @extschema@.channel_fact.payment_id IS '回款 Payment id (rebate.payment); NULL for lines';
COMMENT ON COLUMN @extschema@.channel_fact.product_id IS '产品 Product id (rebate.product)';
COMMENT ON COLUMN @extschema@.channel_fact.promised_on IS '承诺交期 The day delivery was promised by (rebate.sales_order.promised_on)';
COMMENT ON COLUMN @extschema@.channel_fact.delivered_on IS '交付日期 The day the goods were delivered (rebate.sales_order.delivered_on)';
COMMENT ON COLUMN @extschema@.channel_fact_all.tenant_id IS '租户 Tenant: the manufacturer or brand';
COMMENT ON COLUMN @extschema@.channel_fact_all.partner_id IS '渠道商 Partner id (rebate.partner)';
COMMENT ON COLUMN @extschema@.channel_fact_all.kind IS '单据类型 Document kind: order, return or credit_note (lines), or payment';
COMMENT ON COLUMN @extschema@.channel_fact_all.day IS '日期 The order date of lines, the day received of payments';
COMMENT ON COLUMN @extschema@.channel_fact_all.region_id IS '区域 Region id (rebate.region); its figures include every region below it';
COMMENT ON COLUMN @extschema@.channel_fact_all.currency IS '币种 Currency of the amounts';
COMMENT ON COLUMN @extschema@.channel_fact_all.order_id IS '订单 Order, return or credit note id (rebate.sales_order); NULL for payments';
COMMENT ON COLUMN @extschema@.channel_fact_all.order_line_id IS '订单行 Order line id (rebate.order_line); NULL for payments';
COMMENT ON COLUMN @extschema@.channel_fact_all.payment_id IS '回款 Payment id (rebate.payment); NULL for lines';
COMMENT ON COLUMN @extschema@.channel_fact_all.product_id IS '产品 Product id (rebate.product)';
COMMENT ON COLUMN @extschema@.channel_fact_all.quantity IS '净数量 Net quantity: ordered - returned';
COMMENT ON COLUMN @extschema@.channel_fact_all.amount IS '金额 Line amount (negative for returns and credit notes) or payment amount';
COMMENT ON COLUMN @extschema@.channel_fact_all.cost IS '成本 Cost of the goods on the line, signed like quantity; NULL where the line has no cost or the user may not see costs';
COMMENT ON COLUMN @extschema@.channel_fact_all.promised_on IS '承诺交期 The day delivery was promised by (rebate.sales_order.promised_on)';
COMMENT ON COLUMN @extschema@.channel_fact_all.delivered_on IS '交付日期 The day the goods were delivered (rebate.sales_order.delivered_on)';
COMMENT ON COLUMN @extschema@.partner_performance_all.tenant_id IS '租户 Tenant: the manufacturer or brand';
COMMENT ON COLUMN @extschema@.partner_performance_all.partner_id IS '渠道商 Partner id (rebate.partner)';
COMMENT ON COLUMN @extschema@.partner_performance_all.partner_code IS '渠道商编码 Partner code';
COMMENT ON COLUMN @extschema@.partner_performance_all.partner_name IS '渠道商名称 Partner name';
COMMENT ON COLUMN @extschema@.partner_performance_all.home_region_id IS '所在区域 The partner''s home region (rebate.region)';
COMMENT ON COLUMN @extschema@.partner_performance_all.ranking_region_id IS '排名大区 The region the partner is ranked in: the second level of the region tree above its home region';
COMMENT ON COLUMN @extschema@.partner_performance_all.grain IS '统计粒度 Grain: month, quarter or year';
COMMENT ON COLUMN @extschema@.partner_performance_all.period IS '统计期间 The period: [first day, first day of the next period)';
COMMENT ON COLUMN @extschema@.partner_performance_all.period_name IS '期间名称 The period by name: 2026-07, 2026-Q3, 2026';
COMMENT ON COLUMN @extschema@.partner_performance_all.currency IS '币种 Currency of the amounts';
COMMENT ON COLUMN @extschema@.partner_performance_all.kpis IS '渠道指标 All channel KPIs of the row (rebate.kpis, from rebate.channel_kpis)';
COMMENT ON COLUMN @extschema@.partner_performance_all.sales_target IS '销售目标 Sales target: the targets lying inside the period';
COMMENT ON COLUMN @extschema@.partner_performance_all.achievement IS '目标达成率 Target achievement: net sales / sales target; NULL without a target';
COMMENT ON COLUMN @extschema@.partner_performance_all.yoy_growth IS '同比增长率 Growth of net sales over the same period a year earlier; NULL without a base';
COMMENT ON COLUMN @extschema@.partner_performance_all.previous_growth IS '环比增长率 Growth of net sales over the previous period of the same grain (MoM, QoQ, YoY for years); NULL without a base';
COMMENT ON COLUMN @extschema@.partner_performance_all.rank_in_region IS '大区内排名 Rank by net sales among the partners of the same ranking region';
COMMENT ON COLUMN @extschema@.partner_performance_all.rank_overall IS '总排名 Rank by net sales among the tenant''s partners (or products) in the period';
COMMENT ON COLUMN @extschema@.partner_performance_all.rebate_earned IS '已结算返利 Rebate on issued statements of periods inside this one';
COMMENT ON COLUMN @extschema@.partner_performance_all.rebate_to_sales IS '返利销售比 Rebate earned / net sales';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.tenant_id IS '租户 Tenant: the manufacturer or brand';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.partner_id IS '渠道商 Partner id (rebate.partner)';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.partner_code IS '渠道商编码 Partner code';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.partner_name IS '渠道商名称 Partner name';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.home_region_id IS '所在区域 The partner''s home region (rebate.region)';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.ranking_region_id IS '排名大区 The region the partner is ranked in: the second level of the region tree above its home region';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.grain IS '统计粒度 Grain: month, quarter or year';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.period IS '统计期间 The period: [first day, first day of the next period)';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.period_name IS '期间名称 The period by name: 2026-07, 2026-Q3, 2026';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.currency IS '币种 Currency of the amounts';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.kpis IS '渠道指标 All channel KPIs of the row (rebate.kpis, from rebate.channel_kpis)';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.sales_target IS '销售目标 Sales target: the targets lying inside the period';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.achievement IS '目标达成率 Target achievement: net sales / sales target; NULL without a target';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.yoy_growth IS '同比增长率 Growth of net sales over the same period a year earlier; NULL without a base';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.previous_growth IS '环比增长率 Growth of net sales over the previous period of the same grain (MoM, QoQ, YoY for years); NULL without a base';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.rank_in_region IS '大区内排名 Rank by net sales among the partners of the same ranking region';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.rank_overall IS '总排名 Rank by net sales among the tenant''s partners (or products) in the period';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.rebate_earned IS '已结算返利 Rebate on issued statements of periods inside this one';
COMMENT ON COLUMN @extschema@.partner_performance_snapshot.rebate_to_sales IS '返利销售比 Rebate earned / net sales';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.tenant_id IS '租户 Tenant: the manufacturer or brand';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.product_id IS '产品 Product id (rebate.product)';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.sku IS '产品编码 SKU';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.product_name IS '产品名称 Product name';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.category_id IS '产品类别 Product category';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.category_path IS '类别路径 Category ids from the top down to the product''s category: drill down and up';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.grain IS '统计粒度 Grain: month, quarter or year';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.period IS '统计期间 The period: [first day, first day of the next period)';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.period_name IS '期间名称 The period by name: 2026-07, 2026-Q3, 2026';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.currency IS '币种 Currency of the amounts';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.partners IS '渠道商数 Partners with documents in the period';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.net_sales IS '净销售额 Net sales: gross sales - returns - credit notes';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.gross_sales IS '销售额 Gross sales: the amounts of order lines';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.returns IS '退货额 Returns, positive';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.credit_notes IS '折让额 Credit notes, positive';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.gross_margin IS '毛利 Gross margin over lines with a cost; NULL for users who may not see costs';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.margin_rate IS '毛利率 Gross margin / net sales of the lines with a cost; NULL for users who may not see costs';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.quantity IS '净数量 Net quantity: ordered - returned';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.orders IS '订单数 Distinct orders';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.average_order_value IS '客单价 Average order value: gross sales / orders';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.return_rate IS '退货率 Return rate: returns / gross sales';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.on_time_rate IS '准时交付率 On-time delivery rate: orders delivered by the promised date / delivered orders with one';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.products IS '动销品种数 Distinct products sold';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.yoy_growth IS '同比增长率 Growth of net sales over the same period a year earlier; NULL without a base';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.rank_in_category IS '类别内排名 Rank by net sales among the products of the same category';
COMMENT ON COLUMN @extschema@.product_performance_snapshot.rank_overall IS '总排名 Rank by net sales among the tenant''s partners (or products) in the period';
COMMENT ON COLUMN @extschema@.region_settings.region_id IS '区域 Region id (rebate.region)';
COMMENT ON COLUMN @extschema@.region_settings.tenant_id IS '租户 Tenant: the manufacturer or brand';
COMMENT ON COLUMN @extschema@.region_settings.code IS '区域编码 Region code';
COMMENT ON COLUMN @extschema@.region_settings.name IS '区域名称 Region name';
COMMENT ON COLUMN @extschema@.sales_fact.tenant_id IS '租户 Tenant: the manufacturer or brand';
COMMENT ON COLUMN @extschema@.sales_fact.partner_id IS '渠道商 Partner id (rebate.partner)';
COMMENT ON COLUMN @extschema@.sales_fact.order_id IS '订单 Order, return or credit note id (rebate.sales_order); NULL for payments';
COMMENT ON COLUMN @extschema@.sales_fact.order_line_id IS '订单行 Order line id (rebate.order_line); NULL for payments';
COMMENT ON COLUMN @extschema@.sales_fact.kind IS '单据类型 Document kind: order, return or credit_note (lines), or payment';
COMMENT ON COLUMN @extschema@.sales_fact.status IS '订单状态 The order''s status (rebate.sales_order.status)';
COMMENT ON COLUMN @extschema@.sales_fact.order_date IS '订单日期 The order''s date (returns and credit notes: their own date)';
COMMENT ON COLUMN @extschema@.sales_fact.region_id IS '区域 Region id (rebate.region); its figures include every region below it';
COMMENT ON COLUMN @extschema@.sales_fact.product_id IS '产品 Product id (rebate.product)';
COMMENT ON COLUMN @extschema@.v_cross_territory_sales.tenant_id IS '租户 Tenant: the manufacturer or brand';
COMMENT ON COLUMN @extschema@.v_cross_territory_sales.order_id IS '订单 Order id (rebate.sales_order); orders only, not returns or credit notes';
COMMENT ON COLUMN @extschema@.v_cross_territory_sales.order_code IS '订单编号 Order code';
COMMENT ON COLUMN @extschema@.v_cross_territory_sales.order_date IS '订单日期 Order date: the territories are those valid on this day';
COMMENT ON COLUMN @extschema@.v_cross_territory_sales.status IS '订单状态 Order status: submitted, approved, on_hold, shipped, delivered or closed (drafts and cancelled orders are left out)';
COMMENT ON COLUMN @extschema@.v_cross_territory_sales.partner_id IS '渠道商 The partner that placed the order (rebate.partner)';
COMMENT ON COLUMN @extschema@.v_cross_territory_sales.partner_code IS '渠道商编码 Partner code';
COMMENT ON COLUMN @extschema@.v_cross_territory_sales.partner_name IS '渠道商名称 Partner name';
COMMENT ON COLUMN @extschema@.v_cross_territory_sales.region_id IS '发货区域 The order''s ship-to region (rebate.region), outside every territory of the partner valid on the order date';
COMMENT ON COLUMN @extschema@.v_cross_territory_sales.region_name IS '区域名称 Name of the ship-to region';
COMMENT ON COLUMN @extschema@.v_cross_territory_sales.home_region_id IS '所在区域 The partner''s home region (rebate.region); NULL when none is set';
COMMENT ON COLUMN @extschema@.v_cross_territory_sales.amount IS '订单金额 Order amount: the sum of its lines'' amounts (quantity x unit price), positive, in the order''s currency; NULL for an order without lines';
COMMENT ON COLUMN @extschema@.v_cross_territory_sales.violation_status IS '违规处理状态 Status of that territory violation: open (the order waits on_hold) or approved (accepted by a manager); a rejection cancels the order, which leaves the view; NULL when none was recorded';
COMMENT ON COLUMN @extschema@.v_partner_progress.tenant_id IS '租户 Tenant: the manufacturer or brand';
COMMENT ON COLUMN @extschema@.v_partner_progress.partner_id IS '渠道商 Partner id (rebate.partner)';
COMMENT ON COLUMN @extschema@.v_partner_progress.partner_code IS '渠道商编码 Partner code';
COMMENT ON COLUMN @extschema@.v_partner_progress.partner_name IS '渠道商名称 Partner name';
COMMENT ON COLUMN @extschema@.v_partner_progress.program_id IS '返利政策 Rebate program id (rebate.program)';
COMMENT ON COLUMN @extschema@.v_partner_progress.program_code IS '政策编码 Rebate program code';
COMMENT ON COLUMN @extschema@.v_partner_progress.program_name IS '政策名称 Rebate program name';
COMMENT ON COLUMN @extschema@.v_partner_progress.version IS '政策版本 Number of the program version governing today (active, effective today)';
COMMENT ON COLUMN @extschema@.v_partner_progress.component IS '返利构成 own (on the partner''s own basis) or override (what a parent partner, 总代, earns on the summed basis of its direct sub-partners, 二代, by the override schedule)';
COMMENT ON COLUMN @extschema@.v_partner_progress.period IS '结算期间 The program period containing today: its month, quarter or year [first day, first day of the next period), or the version''s whole effective range for range programs';
COMMENT ON COLUMN @extschema@.v_partner_progress.counted_until IS '统计截至日 The last day counted: today. A document counts on its order, delivery or payment date (the version''s date_basis) less the grace days, from the period''s first day up to this day';
COMMENT ON COLUMN @extschema@.v_partner_progress.metric IS '考核指标 The basis: net_sales, gross_margin, collected, quantity, new_customers or growth';
COMMENT ON COLUMN @extschema@.v_partner_progress.kind IS '计算方式 tiered, overachievement (against a target), per_unit or fixed';
COMMENT ON COLUMN @extschema@.v_partner_progress.basis IS '累计基数 The basis so far, in the metric''s unit: net sales, gross margin or payments in the program''s currency (growth: net sales), quantity, or end customers registered; returns and credit notes subtract unless the version ignores them (不计退); override rows: the direct sub-partners'' bases summed; exact; NULL when not_shown';
COMMENT ON COLUMN @extschema@.v_partner_progress.target IS '目标 Overachievement programs: the partner''s targets for the metric lying inside the period, summed (NULL without one); growth programs: its basis over the same days a year earlier; NULL for other programs and override rows';
COMMENT ON COLUMN @extschema@.v_partner_progress.achievement IS '达成率 basis / target, rounded to 4 decimal places (1.0 = 100%; for growth, 1.1 = 10% growth); NULL when the target is NULL or not above 0';
COMMENT ON COLUMN @extschema@.v_partner_progress.tier IS '当前档位 The tier reached: 0 below the first threshold, else 1..n (fixed programs: 1 once the basis reaches the minimum); NULL for per_unit programs and where nothing is rated (no_target, no_comparison_base, not_shown)';
COMMENT ON COLUMN @extschema@.v_partner_progress.rate IS '返利比例 The multiplier of the tier reached: a percentage / 100 (0.03 = 3%) or an amount per unit; per_unit programs: the amount per full unit_size units, or unit_percent / 100; NULL for lump sums, fixed programs, below the first tier and where nothing is rated';
COMMENT ON COLUMN @extschema@.v_partner_progress.earned IS '应得返利 The rebate earned so far, exact, before the version''s cap (a schedule''s own cap applied); 0 for no_target and no_comparison_base; NULL when not_shown';
COMMENT ON COLUMN @extschema@.v_partner_progress.cap_applied IS '封顶 Whether earned exceeds the version''s cap, so that rebate is the cap; false without a cap; NULL when not_shown';
COMMENT ON COLUMN @extschema@.v_partner_progress.rebate IS '返利 The rebate so far after the version''s cap, exact, in the program''s currency (rounding is the statement''s); NULL when not_shown';
COMMENT ON COLUMN @extschema@.v_partner_progress.next_tier_gap IS '距下一档 How much more basis (in the metric''s unit) reaches the next tier (fixed programs: the minimum); NULL in the top tier, for per_unit programs and where nothing is rated';
COMMENT ON COLUMN @extschema@.v_partner_progress.next_tier_rebate IS '下一档返利 The whole rebate (exact, before the version''s cap) the basis would earn on reaching the next tier, not the increase; NULL when next_tier_gap is NULL';
COMMENT ON COLUMN @extschema@.v_partner_progress.documents IS '单据数 Documents counted: order, return and credit-note lines (payments for collected, end customers registered for new_customers); override rows: the sub-partners'' summed; NULL when not_shown';
COMMENT ON COLUMN @extschema@.v_partner_progress.status IS '状态 ok; no_target (overachievement without a target above 0: nothing is paid); no_comparison_base (growth without net sales a year earlier: nothing is paid); not_shown (a gross-margin program and the reader may not see costs: no numbers)';
COMMENT ON COLUMN @extschema@.v_partner_progress.explanation IS '计算说明 The calculation in words: basis, tier, rate and rebate, and the cap where it applied';
COMMENT ON COLUMN @extschema@.v_partner_progress.stacking IS '叠加说明 The outcome in the program''s stacking group, in words (sum, max, exclusive, cascade; in cascade groups tier, rate, earned, rebate and the next tier are re-rated on the basis less what earlier programs paid); NULL for programs in no group and for override rows';
COMMENT ON COLUMN @extschema@.v_partner_progress.paid IS '实付返利 What the program pays after the cap and stacking, exact: the rebate outside groups, in sum groups and in cascade groups; in max and exclusive groups the winner''s rebate, 0 for the others; NULL when not_shown, or when a max, exclusive or cascade group has a program not shown to the reader';
COMMENT ON COLUMN @extschema@.v_price_violations.violation_id IS '违规记录 Violation id (rebate.policy_violation)';
COMMENT ON COLUMN @extschema@.v_price_violations.tenant_id IS '租户 Tenant: the manufacturer or brand';
COMMENT ON COLUMN @extschema@.v_price_violations.kind IS '违规类型 price_floor (unit price below the floor, 低于价格底线), price_ceiling (above the ceiling, 超出限价) or no_price_policy (no price policy applies to the line)';
COMMENT ON COLUMN @extschema@.v_price_violations.status IS '处理状态 open (awaiting a manager''s decision, rebate.resolve_violation), approved (the price accepted) or rejected (the line deleted, or its order cancelled)';
COMMENT ON COLUMN @extschema@.v_price_violations.detected_at IS '发现时间 When the line was written and the violation recorded (transaction time)';
COMMENT ON COLUMN @extschema@.v_price_violations.order_id IS '订单 Order id (rebate.sales_order); NULL for a violation on an application''s own table';
COMMENT ON COLUMN @extschema@.v_price_violations.order_code IS '订单编号 Order code; NULL when order_id is NULL';
COMMENT ON COLUMN @extschema@.v_price_violations.order_line_id IS '订单行 The order line judged (rebate.order_line id; the line no longer exists once the violation is rejected); on an application''s own table, the id (key column) of its row, NULL when unknown';
COMMENT ON COLUMN @extschema@.v_price_violations.order_date IS '订单日期 The date the price was judged on: the order date (on an application''s table without a date column, the day the row was written)';
COMMENT ON COLUMN @extschema@.v_price_violations.partner_id IS '渠道商 Partner id (rebate.partner)';
COMMENT ON COLUMN @extschema@.v_price_violations.partner_code IS '渠道商编码 Partner code';
COMMENT ON COLUMN @extschema@.v_price_violations.partner_name IS '渠道商名称 Partner name';
COMMENT ON COLUMN @extschema@.v_price_violations.product_id IS '产品 Product id (rebate.product)';
COMMENT ON COLUMN @extschema@.v_price_violations.sku IS '产品编码 SKU';
COMMENT ON COLUMN @extschema@.v_price_violations.product_name IS '产品名称 Product name';
COMMENT ON COLUMN @extschema@.v_price_violations.region_id IS '发货区域 The ship-to region (rebate.region) the price policy was looked up for; NULL when an application''s table gives none';
COMMENT ON COLUMN @extschema@.v_price_violations.region_name IS '区域名称 Name of the ship-to region; NULL without one';
COMMENT ON COLUMN @extschema@.v_price_violations.quantity IS '数量 Quantity of the line, positive (1 where an application''s table maps no quantity)';
COMMENT ON COLUMN @extschema@.v_price_violations.unit_price IS '成交单价 The unit price on the line, in the order''s currency';
COMMENT ON COLUMN @extschema@.v_price_violations.limit_price IS '限制价格 The limit crossed: the effective policy''s floor (price_floor) or ceiling (price_ceiling) unit price, a percentage of the list price resolved to an amount; NULL for no_price_policy';
COMMENT ON COLUMN @extschema@.v_price_violations.policy_id IS '价格政策 The price policy (rebate.price_policy) whose floor or ceiling was crossed: the effective one for the product, partner, region, date and quantity; NULL for no_price_policy';
COMMENT ON COLUMN @extschema@.v_price_violations.policy_code IS '价格政策编码 Price policy code; NULL for no_price_policy';
COMMENT ON COLUMN @extschema@.v_price_violations.resolved_by IS '处理人 The role that approved or rejected the violation; NULL while open';
COMMENT ON COLUMN @extschema@.v_price_violations.resolved_at IS '处理时间 When the violation was approved or rejected; NULL while open';
COMMENT ON COLUMN @extschema@.v_price_violations.resolution_note IS '处理说明 The note given with the decision (order cancelled with violation N when another violation''s rejection cancelled the order); NULL while open or when none was given';
COMMENT ON COLUMN @extschema@.v_price_violations.source_table IS '来源表 The table written: rebate.order_line, or an application''s own table carrying rebate.enforce_price_policy()';
COMMENT ON COLUMN @extschema@.v_statement.id IS '对账单 Statement id (rebate.statement)';
COMMENT ON COLUMN @extschema@.v_statement.tenant_id IS '租户 Tenant: the manufacturer or brand';
COMMENT ON COLUMN @extschema@.v_statement.partner_id IS '渠道商 Partner id (rebate.partner)';
COMMENT ON COLUMN @extschema@.v_statement.period IS '结算期间 The period closed by rebate.close_period: [first day, first day after its last day)';
COMMENT ON COLUMN @extschema@.v_statement.currency IS '币种 Currency of the amounts: one statement per partner, period and currency (the programs'' currency)';
COMMENT ON COLUMN @extschema@.v_statement.status IS '对账单状态 draft (recomputed by closing the period again; partner users do not see drafts) -> issued -> confirmed or disputed (by the partner); disputed -> resolved; confirmed or resolved -> paid';
COMMENT ON COLUMN @extschema@.v_statement.total IS '返利合计 Total: the sum of the lines'' net amounts, each line rounded once to the currency''s minor unit; the rebate the statement settles, negative when corrections (adjustment lines for periods already settled, manual lines agreed in disputes) take back more than is paid';
COMMENT ON COLUMN @extschema@.v_statement.line_count IS '行数 Number of lines (rebate.statement_line)';
COMMENT ON COLUMN @extschema@.v_statement.closed_at IS '结算时间 When rebate.close_period wrote the statement (for a draft, the last close)';
COMMENT ON COLUMN @extschema@.v_statement.closed_by IS '结算人 The role that ran rebate.close_period';
COMMENT ON COLUMN @extschema@.v_statement.closed_xmin IS '结算事务号 Every transaction numbered below this had ended when the close computed: the next close looks for changes in the audit log from here on';
COMMENT ON COLUMN @extschema@.v_statement.issued_at IS '下发时间 When the statement was issued to the partner; NULL while a draft';
COMMENT ON COLUMN @extschema@.v_statement.issued_by IS '下发人 The role that issued it; NULL while a draft';
COMMENT ON COLUMN @extschema@.v_statement.answered_at IS '答复时间 When the partner (or a manager on its behalf) confirmed or disputed it; NULL before';
COMMENT ON COLUMN @extschema@.v_statement.answered_by IS '答复人 The role that confirmed or disputed it; NULL before';
COMMENT ON COLUMN @extschema@.v_statement.dispute_reason IS '异议原因 The reason given with a dispute (kept after resolution); NULL unless disputed';
COMMENT ON COLUMN @extschema@.v_statement.resolved_at IS '异议处理时间 When a manager resolved the dispute; NULL unless resolved';
COMMENT ON COLUMN @extschema@.v_statement.resolved_by IS '异议处理人 The role that resolved the dispute; NULL unless resolved';
COMMENT ON COLUMN @extschema@.v_statement.resolution_note IS '处理说明 What was agreed with the partner on resolving the dispute (an agreed adjustment goes on the partner''s next statement as a manual line); NULL unless resolved';
COMMENT ON COLUMN @extschema@.v_statement.paid_at IS '付款时间 When the statement was marked paid; NULL until then';
COMMENT ON COLUMN @extschema@.v_statement.paid_by IS '付款登记人 The role that marked it paid; NULL until then';
COMMENT ON COLUMN @extschema@.v_statement.payment_reference IS '付款凭证号 The payment''s reference given when it was marked paid; NULL if none was given';
COMMENT ON COLUMN @extschema@.v_statement.created_at IS '创建时间 When the statement row was written (the close''s transaction start)';
COMMENT ON COLUMN @extschema@.v_statement.updated_at IS '更新时间 When the statement row last changed (status changes)';
COMMENT ON COLUMN @extschema@.v_statement.partner_code IS '渠道商编码 Partner code';
COMMENT ON COLUMN @extschema@.v_statement.partner_name IS '渠道商名称 Partner name';
COMMENT ON COLUMN @extschema@.v_statement.total_in_words_zh IS '大写金额 The total in Chinese financial capitals (人民币壹万贰仟叁佰肆拾伍元陆角柒分), rounded half away from zero to 2 decimals, 负 when negative; CNY only: reading it for a statement in another currency raises an error';
COMMENT ON COLUMN @extschema@.v_statement.total_in_words_en IS '英文金额 The total in English words (one thousand two hundred thirty-four yuan and fifty fen), rounded half away from zero to 2 decimals, minus when negative; CNY, EUR, GBP, HKD and USD only: another currency raises an error';

-- ---- triggers do not depend on their table's name ------------------------------
-- A trigger function that serves several tables is told which by an argument;
-- the guards of the single-table ones check the schema only.
CREATE OR REPLACE FUNCTION @extschema@.audit_row() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old_json jsonb;
    new_json jsonb;
    row_json jsonb;
    audited    text := TG_ARGV[0];   -- the table, as the install named it
    tenant_key text;
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
    -- a tenant's own row is keyed by id, every other row by tenant_id
    tenant_key := CASE WHEN row_json ? 'tenant_id' THEN 'tenant_id' ELSE 'id' END;
    -- a row an admin moves to another tenant leaves the one (a delete there) and
    -- arrives in the other (an insert): each tenant's log shows only its own
    -- values, and settlement sees the change on both sides
    IF TG_OP = 'UPDATE' AND (old_json ->> tenant_key) IS DISTINCT FROM (new_json ->> tenant_key) THEN
        INSERT INTO @extschema@.audit_log
            (tenant_id, table_name, row_id, operation, old_row, new_row, changed_columns, session_role, acting_role)
        VALUES ((old_json ->> tenant_key)::bigint, audited, (old_json ->> 'id')::bigint, 'DELETE', old_json, NULL,
                NULL, session_user, @extschema@.acting_role()),
               ((new_json ->> tenant_key)::bigint, audited, (new_json ->> 'id')::bigint, 'INSERT', NULL, new_json,
                NULL, session_user, @extschema@.acting_role());
        RETURN NULL;
    END IF;
    INSERT INTO @extschema@.audit_log
        (tenant_id, table_name, row_id, operation, old_row, new_row, changed_columns, session_role, acting_role)
    VALUES ((row_json ->> tenant_key)::bigint,
            audited,
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
    'AFTER ROW trigger on every business table: appends the change to rebate.audit_log (argument: the table''s name, as audit_log.table_name records it)';
CREATE OR REPLACE FUNCTION @extschema@.apply_standard_triggers(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE pg_catalog.format('CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON %s '
                              'FOR EACH ROW EXECUTE FUNCTION @extschema@.audit_row(%L)',
                              tbl, (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = tbl));
    EXECUTE pg_catalog.format('CREATE TRIGGER touch_updated_at BEFORE UPDATE ON %s '
                              'FOR EACH ROW EXECUTE FUNCTION @extschema@.touch_updated_at()', tbl);
    PERFORM @extschema@.register_for_dump(tbl);
END
$$;
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
        EXECUTE format('SELECT path FROM %s WHERE id = $1 AND tenant_id = $2', TG_RELID::regclass)
            INTO parent_path USING NEW.parent_id, NEW.tenant_id;
        IF parent_path IS NULL THEN
            RETURN NEW;                 -- no such parent in the tenant: the foreign key reports it
        END IF;
        IF NEW.id = ANY (parent_path) THEN
            RAISE EXCEPTION '% % cannot be placed under %: that would make a cycle', TG_ARGV[0], NEW.id, NEW.parent_id
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('%s %s is itself below %s %s (path %s).',
                                      TG_ARGV[0], NEW.parent_id, TG_ARGV[0], NEW.id, parent_path),
                      HINT = 'Move the descendant elsewhere first, or choose a parent outside this subtree.';
        END IF;
        NEW.path := parent_path || NEW.id;
        RETURN NEW;
    END IF;
    -- AFTER UPDATE with a changed path: the children recompute theirs (and so on down)
    IF NEW.path IS DISTINCT FROM OLD.path THEN
        EXECUTE format('UPDATE %s SET parent_id = parent_id WHERE parent_id = $1 AND tenant_id = $2',
                       TG_RELID::regclass)
            USING NEW.id, NEW.tenant_id;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.maintain_tree_path() IS
    'Trigger for tree tables (region, partner, product_category): keeps path = ancestors'' ids down to the row, refuses cycles (argument: the table''s name, for messages)';
CREATE OR REPLACE FUNCTION @extschema@.apply_tree_triggers(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE pg_catalog.format('CREATE TRIGGER tree_path BEFORE INSERT OR UPDATE ON %s '
                              'FOR EACH ROW EXECUTE FUNCTION @extschema@.maintain_tree_path(%L)',
                              tbl, (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = tbl));
    EXECUTE pg_catalog.format('CREATE TRIGGER tree_path_descendants AFTER UPDATE ON %s '
                              'FOR EACH ROW EXECUTE FUNCTION @extschema@.maintain_tree_path(%L)',
                              tbl, (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = tbl));
    EXECUTE pg_catalog.format('CREATE INDEX ON %s USING gin (path)', tbl);
END
$$;
CREATE OR REPLACE FUNCTION @extschema@.check_active_scoring_model() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    changed bigint;
BEGIN
    -- separate statements: NEW of scoring_model has no model_id
    IF TG_ARGV[0] = 'scoring_model' THEN
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
    'Deferred constraint trigger: an active scoring model (or one made active) must pass rebate.check_scoring_model at commit (argument: the table it is on)';
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
    IF TG_ARGV[0] = 'statement' THEN
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
COMMENT ON FUNCTION @extschema@.guard_statement() IS
    'BEFORE trigger on statement and statement_line (argument: which of the two): statements start as drafts; only drafts and their lines change or go (RB061)';
CREATE OR REPLACE FUNCTION @extschema@.record_order_history() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
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
CREATE OR REPLACE FUNCTION @extschema@.fill_order_line() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
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
CREATE OR REPLACE FUNCTION @extschema@.check_payment_allocation() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    paid      numeric;
    allocated numeric;
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
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
CREATE OR REPLACE FUNCTION @extschema@.partner_name_key() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    existing record;
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
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
CREATE OR REPLACE FUNCTION @extschema@.record_partner_history() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    why    text := nullif(current_setting('rebate.change_reason', true), '');
    acting name := @extschema@.acting_role();
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
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
CREATE OR REPLACE FUNCTION @extschema@.create_enforcement_setting() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_TABLE_SCHEMA <> '@extschema@' THEN
        RAISE EXCEPTION 'create_enforcement_setting only serves rebate.tenant' USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO @extschema@.enforcement_setting (tenant_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.stamp_attestation() RETURNS trigger
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
            RAISE EXCEPTION 'column "%" is set by the server', forged
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

-- The triggers of the functions that take the table's name as an argument, made again with it.
DO $$
DECLARE
    trig record;
BEGIN
    FOR trig IN
        SELECT t.tgname, t.tgrelid::regclass AS tbl, c.relname, pg_catalog.pg_get_triggerdef(t.oid) AS def
          FROM pg_catalog.pg_trigger t
          JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
          JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
         WHERE c.relnamespace = '@extschema@'::regnamespace AND p.pronamespace = '@extschema@'::regnamespace
           AND p.proname IN ('audit_row', 'maintain_tree_path', 'guard_statement', 'check_active_scoring_model')
           AND t.tgnargs = 0 AND NOT t.tgisinternal
    LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', trig.tgname, trig.tbl);
        EXECUTE pg_catalog.regexp_replace(trig.def, '\(\)$', pg_catalog.format('(%L)', trig.relname));
    END LOOP;
END
$$;

-- ---- keys for a tenant-sharded deployment ----------------------------------------
-- Every tenant table's primary key is (tenant_id, id), which also serves the
-- foreign keys that referred to UNIQUE (tenant_id, id); a unique index on id
-- keeps ids unique across tenants on one node (as the primary key did) and
-- lookups by id alone fast.  Exclusion constraints name
-- tenant_id WITH = directly (btree_gist, now required: CREATE EXTENSION
-- btree_gist before this update).
ALTER TABLE @extschema@.audit_log ALTER COLUMN tenant_id SET NOT NULL;
ALTER TABLE @extschema@.enforcement_setting DROP CONSTRAINT enforcement_setting_id_key;
DO $$
DECLARE
    tbl        text;
    rel        regclass;
    uniq       record;
    fk         record;
    recreate   text[];
    statement  text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY[
                          'audit_log',
                          'end_customer',
                          'order_line',
                          'order_status_history',
                          'partner',
                          'partner_grade',
                          'partner_grade_history',
                          'partner_state_history',
                          'partner_territory',
                          'payment',
                          'payment_allocation',
                          'performance_setting',
                          'policy_violation',
                          'price_policy',
                          'product',
                          'product_category',
                          'product_region',
                          'program',
                          'program_group',
                          'program_version',
                          'region',
                          'sales_order',
                          'scoring_band',
                          'scoring_kpi',
                          'scoring_model',
                          'statement',
                          'statement_adjustment',
                          'statement_line',
                          'target'] LOOP
        rel := pg_catalog.format('@extschema@.%I', tbl)::regclass;
        recreate := '{}';
        -- the unique constraint (tenant_id, id) and the foreign keys that use its index
        SELECT c.conname, c.conindid INTO uniq FROM pg_catalog.pg_constraint c
         WHERE c.conrelid = rel AND c.contype = 'u' AND pg_catalog.pg_get_constraintdef(c.oid) = 'UNIQUE (tenant_id, id)';
        IF FOUND THEN
            FOR fk IN SELECT c.conname, c.conrelid::regclass AS referrer, pg_catalog.pg_get_constraintdef(c.oid) AS def
                        FROM pg_catalog.pg_constraint c
                       WHERE c.contype = 'f' AND c.conindid = uniq.conindid
                       ORDER BY c.conrelid, c.conname LOOP
                EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', fk.referrer, fk.conname);
                recreate := recreate || pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.referrer, fk.conname, fk.def);
            END LOOP;
            EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', rel, uniq.conname);
        END IF;
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I, ADD CONSTRAINT %I PRIMARY KEY (tenant_id, id)',
                                  rel, tbl || '_pkey', tbl || '_pkey');
        EXECUTE pg_catalog.format('CREATE UNIQUE INDEX %I ON %s (id)', tbl || '_by_id', rel);
        FOREACH statement IN ARRAY recreate LOOP
            EXECUTE statement;
        END LOOP;
    END LOOP;
END
$$;
ALTER TABLE @extschema@.partner_territory
    DROP CONSTRAINT partner_territory_no_overlap,
    ADD CONSTRAINT partner_territory_no_overlap EXCLUDE USING gist (
        tenant_id WITH =, partner_id WITH =, region_id WITH =, valid WITH &&);
ALTER TABLE @extschema@.price_policy
    DROP CONSTRAINT price_policy_no_overlap,
    ADD CONSTRAINT price_policy_no_overlap EXCLUDE USING gist (
        tenant_id WITH =, (coalesce(product_id, 0)) WITH =, (coalesce(category_id, 0)) WITH =,
        (coalesce(grade_id, 0)) WITH =, (coalesce(region_id, 0)) WITH =, (promotion::integer) WITH =,
        min_quantity WITH =, valid WITH &&);
ALTER TABLE @extschema@.target
    DROP CONSTRAINT target_no_overlap,
    ADD CONSTRAINT target_no_overlap EXCLUDE USING gist (
        tenant_id WITH =, (coalesce(partner_id, 0)) WITH =, (coalesce(region_id, 0)) WITH =, metric WITH =,
        period WITH &&);
ALTER TABLE @extschema@.program_version
    DROP CONSTRAINT program_version_no_overlap,
    ADD CONSTRAINT program_version_no_overlap EXCLUDE USING gist (
        tenant_id WITH =, program_id WITH =, effective WITH &&) WHERE (status = 'active');

-- ---- the order-status sets have one owner (src/order_status.c) ----------------------

CREATE FUNCTION @extschema@.order_statuses(status_set text) RETURNS text[]
    AS 'MODULE_PATHNAME', 'rebate_order_statuses' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.order_statuses(text) IS
    'The order statuses of a set, in lifecycle order: all, live (the policy judges), open (placed, not shipped), holdable, counted (for rebates), locked, receivable, delivered, placed (not draft or cancelled)';
ALTER TABLE @extschema@.sales_order
    DROP CONSTRAINT sales_order_status_check,
    ADD CONSTRAINT sales_order_status_check CHECK (status OPERATOR(pg_catalog.=) ANY (@extschema@.order_statuses('all')));

CREATE OR REPLACE VIEW @extschema@.sales_fact WITH (security_invoker = true) AS
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
 WHERE o.status OPERATOR(pg_catalog.=) ANY (@extschema@.order_statuses('placed'));
CREATE OR REPLACE VIEW @extschema@.v_cross_territory_sales WITH (security_invoker = true) AS
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
   AND o.status = ANY (@extschema@.order_statuses('placed'))
   AND NOT @extschema@.in_territory(o.partner_id, o.ship_to_region_id, o.order_date);
CREATE OR REPLACE FUNCTION @extschema@.order_counts(status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT status OPERATOR(pg_catalog.=) ANY (@extschema@.order_statuses('counted'))
$$;
CREATE OR REPLACE FUNCTION @extschema@.credit_exposure(partner_id bigint, order_id bigint DEFAULT NULL,
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
                            AND o.status = ANY (@extschema@.order_statuses('receivable'))), 0)
             - coalesce((SELECT sum(p.amount) FROM @extschema@.payment p
                          WHERE p.tenant_id = pa.tenant_id AND p.partner_id = pa.id), 0) AS receivable,
               coalesce((SELECT sum(l.amount)
                           FROM @extschema@.sales_order o
                           JOIN @extschema@.order_line l ON l.order_id = o.id AND l.tenant_id = o.tenant_id
                          WHERE o.tenant_id = pa.tenant_id AND o.partner_id = pa.id AND o.kind = 'order'
                            AND o.status = ANY (@extschema@.order_statuses('open'))
                            AND o.id IS DISTINCT FROM credit_exposure.order_id), 0) AS open_orders,
               coalesce((SELECT sum(l.amount) FROM @extschema@.order_line l
                          WHERE l.order_id = credit_exposure.order_id AND l.tenant_id = pa.tenant_id), 0) AS this_order
     ) x
     WHERE pa.id = credit_exposure.partner_id
$$;
CREATE OR REPLACE FUNCTION @extschema@.stamp_delivery() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.status = ANY (@extschema@.order_statuses('delivered')) AND NEW.delivered_on IS NULL THEN
        NEW.delivered_on := CURRENT_DATE;
    END IF;
    RETURN NEW;
END
$$;


-- ---- one catalog of metrics (src/metrics.c); targets under the programs' names ------

CREATE FUNCTION @extschema@.metric_names(metric_use text) RETURNS text[]
    AS 'MODULE_PATHNAME', 'rebate_metric_names' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.metric_names(text) IS
    'The metrics with a use, in catalog order: all, program (programs pay on it), target (targets are kept), scoring, product_scope (counted from order lines), needs_cost, last_year (compared with a year earlier), money_basis (a cascade reduces it by what earlier programs paid)';

CREATE FUNCTION @extschema@.metric_name(given text) RETURNS text
    AS 'MODULE_PATHNAME', 'rebate_metric_name' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.metric_name(text) IS
    'The catalog name of a metric given by its name or an older alias (sales_amount -> net_sales, collected_amount -> collected); NULL if it is neither';

CREATE FUNCTION @extschema@.metrics(OUT name text, OUT description text, OUT unit text, OUT basis text,
                                    OUT program boolean, OUT target boolean, OUT scoring boolean,
                                    OUT product_scope boolean, OUT needs_cost boolean, OUT last_year boolean,
                                    OUT money_basis boolean, OUT alias text)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'rebate_metrics' LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 16;
COMMENT ON FUNCTION @extschema@.metrics() IS 'The metric catalog, one row per metric (the view rebate.metric)';

CREATE VIEW @extschema@.metric WITH (security_invoker = true) AS SELECT * FROM @extschema@.metrics();
COMMENT ON VIEW @extschema@.metric IS
    '指标 The metrics programs pay on, targets measure, scoring models score and views report';
COMMENT ON COLUMN @extschema@.metric.name IS '指标 The metric''s name, as program_version.metric, target.metric and scoring_kpi.kpi say it';
COMMENT ON COLUMN @extschema@.metric.description IS '说明 What the metric measures';
COMMENT ON COLUMN @extschema@.metric.unit IS '单位 amount (in the program''s currency), quantity, count or ratio';
COMMENT ON COLUMN @extschema@.metric.basis IS '计算口径 How its value is computed: line_amount, line_margin, line_quantity (order lines), payments, customers, or kpis (a rebate.kpis field)';
COMMENT ON COLUMN @extschema@.metric.program IS '返利指标 Whether programs pay on it (program_version.metric)';
COMMENT ON COLUMN @extschema@.metric.target IS '目标 Whether targets are kept for it (rebate.target), so overachievement can measure it';
COMMENT ON COLUMN @extschema@.metric.scoring IS '评分 Whether scoring models score it (scoring_kpi.kpi)';
COMMENT ON COLUMN @extschema@.metric.product_scope IS '按产品 Whether it is counted from order lines, so a program may scope it by product or category';
COMMENT ON COLUMN @extschema@.metric.needs_cost IS '需成本 Whether it reads the cost of the goods (order_line.unit_cost)';
COMMENT ON COLUMN @extschema@.metric.last_year IS '同比 Whether it is compared with the same period a year earlier';
COMMENT ON COLUMN @extschema@.metric.money_basis IS '金额基数 Whether its basis is money, which a cascade reduces by what earlier programs of the group paid';
COMMENT ON COLUMN @extschema@.metric.alias IS '旧名 An older name still accepted as input, or NULL';
GRANT SELECT ON @extschema@.metric TO rebate_admin, rebate_manager, rebate_partner;

-- a renamed vocabulary, not a change of the targets: neither audited nor
-- dated (a change there would make the next close recheck settled periods)
ALTER TABLE @extschema@.target DROP CONSTRAINT target_metric_check,
    DISABLE TRIGGER audit, DISABLE TRIGGER touch_updated_at;
UPDATE @extschema@.target SET metric = @extschema@.metric_name(metric)
 WHERE metric IS DISTINCT FROM @extschema@.metric_name(metric);
ALTER TABLE @extschema@.target ENABLE TRIGGER audit, ENABLE TRIGGER touch_updated_at;
ALTER TABLE @extschema@.target
    ADD CONSTRAINT target_metric_check CHECK (metric OPERATOR(pg_catalog.=) ANY (@extschema@.metric_names('target')));

COMMENT ON COLUMN @extschema@.target.metric IS
    'A metric targets are kept for (rebate.metric_names(''target''): net_sales, collected, quantity, new_customers); the older names sales_amount and collected_amount are accepted and stored as net_sales and collected';
CREATE FUNCTION @extschema@.name_target_metric() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.metric := coalesce(@extschema@.metric_name(NEW.metric), NEW.metric);
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.name_target_metric() IS
    'BEFORE trigger on target: an older metric name (sales_amount, collected_amount) is stored as the catalog''s';
CREATE TRIGGER metric_name BEFORE INSERT OR UPDATE OF metric ON @extschema@.target
    FOR EACH ROW EXECUTE FUNCTION @extschema@.name_target_metric();
ALTER TABLE @extschema@.program_version
    DROP CONSTRAINT program_version_metric_check,
    ADD CONSTRAINT program_version_metric_check CHECK (metric OPERATOR(pg_catalog.=) ANY (@extschema@.metric_names('program')));
ALTER TABLE @extschema@.scoring_kpi
    DROP CONSTRAINT scoring_kpi_kpi_check,
    ADD CONSTRAINT scoring_kpi_kpi_check CHECK (kpi OPERATOR(pg_catalog.=) ANY (@extschema@.metric_names('scoring')));
DROP FUNCTION @extschema@.target_metric(text);

CREATE OR REPLACE FUNCTION @extschema@.check_program_version(v @extschema@.program_version) RETURNS void
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
    ELSIF v.kind = 'overachievement' AND NOT v.metric = ANY (@extschema@.metric_names('target')) THEN
        problem := pg_catalog.format('targets are not kept for the metric %s', v.metric);
        hint := pg_catalog.format('Overachievement measures %s against rebate.target.',
                                  pg_catalog.array_to_string(@extschema@.metric_names('target'), ', '));
    ELSIF v.metric = ANY (@extschema@.metric_names('last_year')) AND v.kind <> 'tiered' THEN
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
    ELSIF NOT v.metric = ANY (@extschema@.metric_names('product_scope')) AND (v.category_ids <> '{}' OR v.product_ids <> '{}') THEN
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
     WHERE v.metric OPERATOR(pg_catalog.=) ANY (@extschema@.metric_names('product_scope'))
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
CREATE OR REPLACE FUNCTION @extschema@.program_basis(v @extschema@.program_version, from_day date, to_day date,
                                          partners bigint[] DEFAULT NULL)
    RETURNS TABLE (partner_id bigint, parent_id bigint, basis numeric, unit_earned numeric, documents bigint)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    -- how the metric's basis is counted (rebate.metric): each branch below runs only for its kind
    counted_from text := (SELECT m.basis FROM @extschema@.metrics() m WHERE m.name = v.metric);
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
             WHERE NOT v.metric = ANY (@extschema@.metric_names('needs_cost'))
             GROUP BY pl.partner_id, pl.product_id
            UNION ALL
            SELECT c.partner_id, c.product_id, c.quantity, c.amount, c.documents, c.cost
              FROM @extschema@.program_line_costs(v, from_day, to_day, partners) c
             WHERE v.metric = ANY (@extschema@.metric_names('needs_cost'))
        ), sales_basis AS (
            SELECT p.partner_id,
                   sum(CASE counted_from WHEN 'line_margin' THEN p.amount - p.cost
                                         WHEN 'line_quantity' THEN p.quantity
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
             WHERE counted_from = 'payments'
               AND pay.tenant_id = v.tenant_id AND pay.currency = v.currency
               AND (v.region_ids = '{}' OR r.path && v.region_ids)
               AND pay.received_on - v.grace_days >= from_day AND pay.received_on - v.grace_days < to_day
             GROUP BY pay.partner_id
        ), customers AS (
            SELECT c.partner_id, count(*)::numeric AS basis, NULL::numeric AS unit_earned, count(*) AS documents
              FROM @extschema@.end_customer c
              JOIN scope s ON s.id = c.partner_id
              LEFT JOIN @extschema@.region r ON r.id = coalesce(c.region_id, s.home_region_id)
             WHERE counted_from = 'customers'
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
CREATE OR REPLACE FUNCTION @extschema@.rate_basis(v @extschema@.program_version, basis numeric, comparison numeric,
                                       unit_earned numeric,
                                       OUT tier integer, OUT rate numeric, OUT earned numeric,
                                       OUT next_tier_gap numeric, OUT next_tier_rebate numeric,
                                       OUT status text, OUT explanation text)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    against_target boolean := v.kind = 'overachievement' OR v.metric = ANY (@extschema@.metric_names('last_year'));
    tiers   record;
    above   numeric;
BEGIN
    status := 'ok';
    IF against_target AND (comparison IS NULL OR comparison <= 0) THEN
        status := CASE WHEN v.metric = ANY (@extschema@.metric_names('last_year')) THEN 'no_comparison_base' ELSE 'no_target' END;
        earned := 0;
        explanation := CASE WHEN v.metric = ANY (@extschema@.metric_names('last_year'))
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
                                         v.metric, basis, CASE WHEN v.metric = ANY (@extschema@.metric_names('last_year')) THEN 'last year''s' ELSE 'target' END,
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
CREATE OR REPLACE FUNCTION @extschema@.program_targets(v @extschema@.program_version, period daterange,
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
               AND t.metric = v.metric
             GROUP BY t.partner_id;
    ELSE
        RETURN QUERY
            SELECT t.partner_id, sum(t.value)
              FROM @extschema@.target t
             WHERE t.tenant_id = v.tenant_id AND t.partner_id = ANY (partners)
               AND t.metric = v.metric
               -- "inside the period" by its bounds (both are bounded), not <@, which would also
               -- send the plan to the overlap index and through every target of the period
               AND lower(t.period) >= lower(program_targets.period) AND upper(t.period) <= upper(program_targets.period)
             GROUP BY t.partner_id;
    END IF;
END
$$;
CREATE OR REPLACE FUNCTION @extschema@.program_results(v @extschema@.program_version, period daterange,
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
    IF v.metric = ANY (@extschema@.metric_names('last_year')) THEN
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
             WHERE v.metric = ANY (@extschema@.metric_names('last_year'))
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
CREATE OR REPLACE FUNCTION @extschema@.apply_stacking(results @extschema@.program_result[])
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
                IF paid_before <> 0 AND r.metric = ANY (@extschema@.metric_names('money_basis'))
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
CREATE OR REPLACE FUNCTION @extschema@.progress(partner_id bigint, as_of date DEFAULT CURRENT_DATE)
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
        IF v.metric = ANY (@extschema@.metric_names('needs_cost')) AND NOT costs THEN
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
CREATE OR REPLACE FUNCTION @extschema@.verify_basis(v @extschema@.program_version, from_day date, to_day date)
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
           AND o.status = ANY (@extschema@.order_statuses('counted'))
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
         WHERE s.status = ANY (@extschema@.order_statuses('counted'))
    ), per_product AS (
        SELECT d.partner_id, ol.product_id,
               sum(ol.quantity * CASE d.kind WHEN 'order' THEN 1 WHEN 'return' THEN -1 ELSE 0 END) AS qty,
               sum(ol.amount * CASE d.kind WHEN 'order' THEN 1 ELSE -1 END) AS amount,
               sum(ol.quantity * CASE d.kind WHEN 'order' THEN 1 WHEN 'return' THEN -1 ELSE 0 END
                   * CASE WHEN v.metric = ANY (@extschema@.metric_names('needs_cost')) THEN coalesce(ol.unit_cost, 0) ELSE 0 END) AS cost
          FROM dated d JOIN @extschema@.order_line ol ON ol.order_id = d.id
         WHERE d.day >= from_day + v.grace_days AND d.day < to_day + v.grace_days
           AND ol.product_id IN (SELECT id FROM in_products)
         GROUP BY d.partner_id, ol.product_id
    ), found AS (
        SELECT pp.partner_id,
               sum(CASE (SELECT m.basis FROM @extschema@.metrics() m WHERE m.name = v.metric) WHEN 'line_quantity' THEN pp.qty
                        WHEN 'line_margin' THEN pp.amount - pp.cost ELSE pp.amount END) AS basis,
               sum(CASE WHEN v.unit_amount IS NOT NULL THEN trunc(pp.qty / v.unit_size) * v.unit_amount
                        ELSE pp.amount * v.unit_percent / 100 END) AS unit_amount
          FROM per_product pp WHERE v.metric = ANY (@extschema@.metric_names('product_scope'))
         GROUP BY pp.partner_id
        UNION ALL
        SELECT p.partner_id, sum(p.amount), NULL
          FROM @extschema@.payment p JOIN partners pa ON pa.id = p.partner_id
         WHERE (SELECT m.basis FROM @extschema@.metrics() m WHERE m.name = v.metric) = 'payments' AND p.tenant_id = v.tenant_id AND p.currency = v.currency
           AND (cardinality(v.region_ids) = 0 OR pa.home_region_id IN (SELECT id FROM in_regions))
           AND p.received_on >= from_day + v.grace_days AND p.received_on < to_day + v.grace_days
         GROUP BY p.partner_id
        UNION ALL
        SELECT c.partner_id, count(*), NULL
          FROM @extschema@.end_customer c JOIN partners pa ON pa.id = c.partner_id
         WHERE (SELECT m.basis FROM @extschema@.metrics() m WHERE m.name = v.metric) = 'customers' AND c.tenant_id = v.tenant_id
           AND (cardinality(v.region_ids) = 0 OR coalesce(c.region_id, pa.home_region_id) IN (SELECT id FROM in_regions))
           AND c.registered_on >= from_day + v.grace_days AND c.registered_on < to_day + v.grace_days
         GROUP BY c.partner_id
    )
    SELECT pa.id, pa.parent_id, coalesce(f.basis, 0), f.unit_amount
      FROM partners pa LEFT JOIN found f ON f.partner_id = pa.id
     WHERE pa.state = 'active' OR f.partner_id IS NOT NULL
$$;
CREATE OR REPLACE FUNCTION @extschema@.verify_earned(v @extschema@.program_version, program_period daterange, as_of date)
    RETURNS TABLE (partner_id bigint, component text, basis numeric, earned numeric, rated boolean)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH now_ AS (
        SELECT * FROM @extschema@.verify_basis(v, lower(program_period), as_of + 1)
    ), last_year AS (
        SELECT * FROM @extschema@.verify_basis(v, (lower(program_period) - interval '1 year')::date,
                                               (as_of + 1 - interval '1 year')::date)
         WHERE v.metric = ANY (@extschema@.metric_names('last_year'))
    ), targets AS (
        SELECT t.partner_id, sum(t.value) AS value FROM @extschema@.target t
         WHERE v.kind = 'overachievement' AND t.tenant_id = v.tenant_id AND t.period <@ program_period
           AND t.metric = v.metric
         GROUP BY t.partner_id
    ), own AS (
        SELECT n.partner_id, n.basis,
               CASE WHEN v.kind = 'overachievement' OR v.metric = ANY (@extschema@.metric_names('last_year')) THEN coalesce(t.value, ly.basis) END AS against,
               n.unit_amount
          FROM now_ n
          LEFT JOIN targets t ON t.partner_id = n.partner_id
          LEFT JOIN last_year ly ON ly.partner_id = n.partner_id
    ), rated AS (
        SELECT o.partner_id, 'own'::text AS component, o.basis,
               CASE
                 WHEN (v.kind = 'overachievement' OR v.metric = ANY (@extschema@.metric_names('last_year'))) AND NOT coalesce(o.against > 0, false) THEN 0
                 WHEN v.kind = 'per_unit' THEN coalesce(o.unit_amount, 0)
                 WHEN v.kind = 'fixed' THEN CASE WHEN o.basis >= v.fixed_minimum THEN v.fixed_amount ELSE 0 END
                 WHEN v.kind = 'overachievement' OR v.metric = ANY (@extschema@.metric_names('last_year'))
                     THEN @extschema@.verify_schedule(o.basis, v.schedule, o.against, v.apply_to)
                 ELSE @extschema@.verify_schedule(o.basis, v.schedule)
               END AS earned,
               NOT ((v.kind = 'overachievement' OR v.metric = ANY (@extschema@.metric_names('last_year'))) AND NOT coalesce(o.against > 0, false)) AS rated
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
CREATE OR REPLACE FUNCTION @extschema@.verify_period(tenant_id bigint, period daterange)
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
                SELECT CASE WHEN r.metric = ANY (@extschema@.metric_names('money_basis')) AND r.rated
                                 AND c.paid_so_far <> 0
                            THEN (SELECT ve.earned FROM @extschema@.program_version v2,
                                         LATERAL (SELECT CASE
                                             WHEN v2.kind = 'per_unit' THEN (r.basis - c.paid_so_far) * v2.unit_percent / 100
                                             WHEN v2.kind = 'fixed' THEN CASE WHEN r.basis - c.paid_so_far >= v2.fixed_minimum THEN v2.fixed_amount ELSE 0 END
                                             WHEN v2.kind = 'overachievement' OR v2.metric = ANY (@extschema@.metric_names('last_year'))
                                                 THEN @extschema@.verify_schedule(r.basis - c.paid_so_far, v2.schedule,
                                                        coalesce((SELECT sum(tg.value) FROM @extschema@.target tg
                                                                   WHERE v2.kind = 'overachievement' AND tg.partner_id = r.partner_id
                                                                     AND tg.period <@ r.program_period
                                                                     AND tg.metric = v2.metric),
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
CREATE OR REPLACE FUNCTION @extschema@.check_scoring_model(model_id bigint) RETURNS void
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
        ELSIF k.normalisation = 'target' AND k.target IS NULL
              AND NOT (k.kpi = ANY (@extschema@.metric_names('target')) AND k.kpi = ANY (@extschema@.metric_names('scoring'))) THEN
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
CREATE OR REPLACE FUNCTION @extschema@.period_kpis(tenant_id bigint, period daterange)
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
                                   CASE WHEN f.metric = 'net_sales' THEN f.target END),
           sum(f.target) FILTER (WHERE f.metric = 'net_sales'),
           sum(f.target) FILTER (WHERE f.metric = 'collected'),
           sum(f.target) FILTER (WHERE f.metric = 'quantity')
      FROM facts f
     GROUP BY f.partner_id
$$;
CREATE OR REPLACE FUNCTION @extschema@.partner_scores(tenant_id bigint, period daterange)
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
                                     WHERE k.model_id = m.id AND k.kpi = ANY (@extschema@.metric_names('needs_cost')));
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
               CASE WHEN costs THEN n.kpi_values ELSE n.kpi_values - @extschema@.metric_names('needs_cost') END,
               CASE WHEN costs THEN n.scores ELSE n.scores - @extschema@.metric_names('needs_cost') END,
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
CREATE OR REPLACE FUNCTION @extschema@.apply_grade_suggestions(tenant_id bigint, period daterange)
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
                                  AND k.kpi = ANY (@extschema@.metric_names('needs_cost')));
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

-- ---- the reports measure sales against the targets' new name ----------------------
CREATE OR REPLACE VIEW @extschema@.partner_performance_all AS
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
                 WHERE t.tenant_id = b.tenant_id AND t.partner_id = b.partner_id AND t.metric = 'net_sales'
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
UPDATE @extschema@.report_query SET query = pg_catalog.replace(query, 't.metric = ''sales_amount''', 't.metric = ''net_sales''')
 WHERE report = 'region';
DO $$
BEGIN
    EXECUTE (SELECT pg_catalog.format('CREATE OR REPLACE VIEW @extschema@.v_region_performance AS %s',
                                      pg_catalog.format(query, '@extschema@.channel_fact'))
               FROM @extschema@.report_query WHERE report = 'region');
END
$$;
ALTER VIEW @extschema@.v_region_performance SET (security_barrier);
-- The region snapshot is made again (filled from the data here) with its
-- view, key, privileges (those granted since included) and comments.  An
-- object of the installation's own built on either stops the update (no
-- CASCADE): drop it first, and make it again after.
CREATE TEMP TABLE rebate_region_snapshot_grants AS
SELECT c.relname, a.grantee::regrole AS grantee, a.privilege_type, a.is_grantable
  FROM pg_catalog.pg_class c CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
 WHERE c.oid IN ('@extschema@.region_performance_snapshot'::regclass, '@extschema@.v_region_performance_snapshot'::regclass)
   AND a.grantee <> 0 AND a.grantee <> c.relowner;
CREATE TEMP TABLE rebate_region_snapshot_refresh AS
SELECT r.refreshed_at FROM @extschema@.snapshot_refresh r
 WHERE r.snapshot = '@extschema@.region_performance_snapshot'::regclass;
DELETE FROM @extschema@.snapshot_refresh WHERE snapshot = '@extschema@.region_performance_snapshot'::regclass;
DROP VIEW @extschema@.v_region_performance_snapshot;
DROP MATERIALIZED VIEW @extschema@.region_performance_snapshot;
CREATE TEMP TABLE rebate_region_snapshot_made (started timestamptz);
INSERT INTO rebate_region_snapshot_made VALUES (pg_catalog.clock_timestamp());
SELECT @extschema@.create_report_view('@extschema@.region_performance_snapshot',
    pg_catalog.format(query, '@extschema@.channel_fact_all'), 'materialized')
  FROM @extschema@.report_query WHERE report = 'region';
-- it was refreshed now: recorded as such where the old one had been refreshed
INSERT INTO @extschema@.snapshot_refresh (snapshot, refreshed_at, seconds, concurrent)
SELECT '@extschema@.region_performance_snapshot'::regclass, pg_catalog.now(),
       pg_catalog.round(EXTRACT(epoch FROM pg_catalog.clock_timestamp() - m.started)::numeric, 3), false
  FROM rebate_region_snapshot_made m WHERE EXISTS (SELECT 1 FROM rebate_region_snapshot_refresh);
CREATE UNIQUE INDEX region_performance_snapshot_key
    ON @extschema@.region_performance_snapshot (tenant_id, region_id, grain, period, currency);
REVOKE ALL ON @extschema@.region_performance_snapshot FROM PUBLIC;
CREATE VIEW @extschema@.v_region_performance_snapshot AS
SELECT s.* FROM @extschema@.region_performance_snapshot s
 WHERE (SELECT @extschema@.is_group_admin())
    OR (s.tenant_id = (SELECT @extschema@.current_tenant_id()) AND (SELECT @extschema@.is_tenant_manager()));
ALTER VIEW @extschema@.v_region_performance_snapshot SET (security_barrier);
GRANT SELECT ON @extschema@.v_region_performance_snapshot TO rebate_admin, rebate_manager, rebate_partner;
DO $$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT * FROM rebate_region_snapshot_grants LOOP
        EXECUTE pg_catalog.format('GRANT %s ON @extschema@.%I TO %s%s', g.privilege_type, g.relname, g.grantee,
                                  CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$$;
DROP TABLE rebate_region_snapshot_grants, rebate_region_snapshot_refresh, rebate_region_snapshot_made;
COMMENT ON VIEW @extschema@.v_region_performance_snapshot IS
    '区域绩效（快照） v_region_performance over every partner''s facts as of the last refresh; managers and admins';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.tenant_id IS '租户 Tenant: the manufacturer or brand';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.region_id IS '区域 Region id (rebate.region); its figures include every region below it';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.region_code IS '区域编码 Region code';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.region_name IS '区域名称 Region name';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.region_level IS '区域层级 Region level: country, area, province, city, district';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.parent_region_id IS '上级区域 Parent region: drill up';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.region_path IS '区域路径 Region ids from the top down to this one: drill down and up';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.grain IS '统计粒度 Grain: month, quarter or year';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.period IS '统计期间 The period: [first day, first day of the next period)';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.period_name IS '期间名称 The period by name: 2026-07, 2026-Q3, 2026';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.currency IS '币种 Currency of the amounts';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.partners IS '渠道商数 Partners with documents in the period';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.net_sales IS '净销售额 Net sales: gross sales - returns - credit notes';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.gross_sales IS '销售额 Gross sales: the amounts of order lines';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.returns IS '退货额 Returns, positive';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.credit_notes IS '折让额 Credit notes, positive';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.gross_margin IS '毛利 Gross margin over lines with a cost; NULL for users who may not see costs';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.margin_rate IS '毛利率 Gross margin / net sales of the lines with a cost; NULL for users who may not see costs';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.quantity IS '净数量 Net quantity: ordered - returned';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.orders IS '订单数 Distinct orders';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.average_order_value IS '客单价 Average order value: gross sales / orders';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.return_rate IS '退货率 Return rate: returns / gross sales';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.collected IS '回款额 Payments received';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.collection_rate IS '回款率 Collection rate: collected / net sales';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.on_time_rate IS '准时交付率 On-time delivery rate: orders delivered by the promised date / delivered orders with one';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.products IS '动销品种数 Distinct products sold';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.sales_target IS '销售目标 Sales target: the targets lying inside the period';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.achievement IS '目标达成率 Target achievement: net sales / sales target; NULL without a target';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.yoy_growth IS '同比增长率 Growth of net sales over the same period a year earlier; NULL without a base';
COMMENT ON COLUMN @extschema@.region_performance_snapshot.rank_among_siblings IS '同级排名 Rank by net sales among the regions with the same parent';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.tenant_id IS '租户 Tenant: the manufacturer or brand';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.region_id IS '区域 Region id (rebate.region); its figures include every region below it';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.region_code IS '区域编码 Region code';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.region_name IS '区域名称 Region name';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.region_level IS '区域层级 Region level: country, area, province, city, district';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.parent_region_id IS '上级区域 Parent region: drill up';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.region_path IS '区域路径 Region ids from the top down to this one: drill down and up';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.grain IS '统计粒度 Grain: month, quarter or year';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.period IS '统计期间 The period: [first day, first day of the next period)';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.period_name IS '期间名称 The period by name: 2026-07, 2026-Q3, 2026';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.currency IS '币种 Currency of the amounts';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.partners IS '渠道商数 Partners with documents in the period';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.net_sales IS '净销售额 Net sales: gross sales - returns - credit notes';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.gross_sales IS '销售额 Gross sales: the amounts of order lines';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.returns IS '退货额 Returns, positive';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.credit_notes IS '折让额 Credit notes, positive';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.gross_margin IS '毛利 Gross margin over lines with a cost; NULL for users who may not see costs';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.margin_rate IS '毛利率 Gross margin / net sales of the lines with a cost; NULL for users who may not see costs';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.quantity IS '净数量 Net quantity: ordered - returned';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.orders IS '订单数 Distinct orders';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.average_order_value IS '客单价 Average order value: gross sales / orders';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.return_rate IS '退货率 Return rate: returns / gross sales';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.collected IS '回款额 Payments received';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.collection_rate IS '回款率 Collection rate: collected / net sales';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.on_time_rate IS '准时交付率 On-time delivery rate: orders delivered by the promised date / delivered orders with one';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.products IS '动销品种数 Distinct products sold';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.sales_target IS '销售目标 Sales target: the targets lying inside the period';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.achievement IS '目标达成率 Target achievement: net sales / sales target; NULL without a target';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.yoy_growth IS '同比增长率 Growth of net sales over the same period a year earlier; NULL without a base';
COMMENT ON COLUMN @extschema@.v_region_performance_snapshot.rank_among_siblings IS '同级排名 Rank by net sales among the regions with the same parent';
