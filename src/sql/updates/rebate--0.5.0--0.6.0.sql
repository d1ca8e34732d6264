\echo Use "ALTER EXTENSION rebate UPDATE TO '0.6.0'" to load this file. \quit

-- rebate 0.5.0 -> 0.6.0: the source laid out by topic (issue 14).

-- ---- every column of every view has a comment --------------------------------
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
-- foreign keys that referred to UNIQUE (tenant_id, id); a plain index on id
-- keeps lookups by id alone as fast as before.  Exclusion constraints name
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
        EXECUTE pg_catalog.format('CREATE INDEX %I ON %s (id)', tbl || '_by_id', rel);
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
